/** A real DynamoDB API (dynalite) in the test process, with the call table created from the shared schema. */
export { startInProcessTable as startTestTable, type InProcessTable as TestTable } from '../../local/dynamo/in-process';
