/** The one call table, from the same schema the local stack creates (functions/adapters/table-schema.ts). */
import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, type ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { CALL_TABLE_SCHEMA } from '../../functions/adapters/table-schema';

export interface CallTableProps {
  /** Keep the table (and its data) when the stack or resource is deleted. True for prod only. */
  readonly retain: boolean;
}

export class CallTable extends Construct {
  readonly table: ITable;

  constructor(scope: Construct, id: string, props: CallTableProps) {
    super(scope, id);
    this.table = new Table(this, 'Table', {
      partitionKey: { name: CALL_TABLE_SCHEMA.partitionKey, type: AttributeType.STRING },
      sortKey: { name: CALL_TABLE_SCHEMA.sortKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: CALL_TABLE_SCHEMA.timeToLiveAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: props.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
  }
}
