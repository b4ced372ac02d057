/** The one call table, from the same schema the local stack creates (functions/contracts/table-schema.ts). */
import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { CALL_TABLE_SCHEMA, CALLS_BY_DAY } from '../../functions/contracts/table-schema';

export interface CallTableProps {
  /** Keep the table (and its data) when the stack or resource is deleted. */
  readonly retain: boolean;
  /** Refuse DeleteTable (console, CLI or a stack change) until switched off. */
  readonly deletionProtection: boolean;
}

export class CallTable extends Construct {
  readonly table: Table;

  constructor(scope: Construct, id: string, props: CallTableProps) {
    super(scope, id);
    this.table = new Table(this, 'Table', {
      partitionKey: { name: CALL_TABLE_SCHEMA.partitionKey, type: AttributeType.STRING },
      sortKey: { name: CALL_TABLE_SCHEMA.sortKey, type: AttributeType.STRING },
      // On-demand: a call's load arrives in seconds (50 writes/s while the caller talks); no capacity to plan.
      billingMode: BillingMode.PAY_PER_REQUEST,
      // Caller audio lives an hour, calls as long as the environment says (callRetentionHours); TTL deletes them for free.
      timeToLiveAttribute: CALL_TABLE_SCHEMA.timeToLiveAttribute,
      encryption: TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: props.deletionProtection,
      removalPolicy: props.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    // The on-call history's list of calls by day: sparse (only call items carry its key), written a few times a call.
    this.table.addGlobalSecondaryIndex({
      indexName: CALLS_BY_DAY.indexName,
      partitionKey: { name: CALLS_BY_DAY.partitionKey, type: AttributeType.STRING },
      sortKey: { name: CALLS_BY_DAY.sortKey, type: AttributeType.NUMBER },
      projectionType: ProjectionType.INCLUDE,
      nonKeyAttributes: [...CALLS_BY_DAY.projected],
    });
  }
}
