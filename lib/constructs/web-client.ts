/**
 * The browser page (web/) on AWS: its files in a private S3 bucket, deployed with the stack (BucketDeployment).
 *
 * No website hosting and no CloudFront: the bucket stays private, and a person opens a page through a presigned
 * link (`aws s3 presign s3://<bucket>/call.html`, or `…/call-history.html` for the call history), which only someone
 * with access to the account can make. For that link to work on its own, `call.html` and `call-history.html` are the pages
 * made self-contained at synth time: their scripts inlined (a presigned URL signs one object; the relative `app.js`
 * beside it would be refused) and the HTTP API's address filled in at deploy time, so they need no `?api=`. The
 * plain files (index.html, history.html, app.js, codec.js, waterfall.js, history.js) are deployed too, for serving
 * or downloading them elsewhere with `?api=`.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DefaultStackSynthesizer, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership, type CfnBucket } from 'aws-cdk-lib/aws-s3';
import { BucketDeployment, Source } from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';

export const WEB_DIR = path.resolve(__dirname, '..', '..', 'web');
/** The self-contained call page a presigned link opens. */
export const STANDALONE_PAGE = 'call.html';
/**
 * The self-contained call history page. Not `history.html`: that name is the plain page (web/history.html, deployed
 * too), and two sources of one deployment must not write the same key.
 */
export const STANDALONE_HISTORY_PAGE = 'call-history.html';
/**
 * Each self-contained page deployed, by the web/ page it is made from. Links between the pages name the deployed
 * files (index.html → call.html), so they still lead somewhere when the pages are downloaded side by side.
 */
export const STANDALONE_PAGES: Readonly<Record<string, string>> = {
  [STANDALONE_PAGE]: 'index.html',
  [STANDALONE_HISTORY_PAGE]: 'history.html',
};

export interface WebClientProps {
  /** Base URL of the HTTP API serving `POST /browser/token` (https://{api}.execute-api.{region}.amazonaws.com). */
  readonly apiUrl: string;
  readonly logRetention: RetentionDays;
  readonly retainLogs: boolean;
}

/**
 * A web/ page (index.html unless told) with each local `<script src>` inlined, the API address in its
 * `voice-agent-api` meta tag, and its links to the other pages pointed at their deployed names. Throws when the page
 * no longer has what this replaces, so a renamed script fails the synth instead of shipping a page that cannot load.
 */
export function standalonePage(apiUrl: string, webDir = WEB_DIR, page = 'index.html'): string {
  let html = readFileSync(path.join(webDir, page), 'utf8');
  const meta = '<meta name="voice-agent-api" content="">';
  if (!html.includes(meta)) throw new Error(`web/${page}: no ${meta} to fill in`);
  html = html.replace(meta, () => `<meta name="voice-agent-api" content="${escapeAttribute(apiUrl)}">`);
  const scripts = [...html.matchAll(/<script src="([A-Za-z0-9_-]+\.js)"><\/script>/g)];
  if (scripts.length === 0) throw new Error(`web/${page}: no local scripts to inline`);
  for (const [tag, file] of scripts) {
    const js = readFileSync(path.join(webDir, file!), 'utf8');
    // Inside an inline <script>, "</script" would end the element early.
    if (/<\/script/i.test(js)) throw new Error(`web/${file}: contains "</script", cannot be inlined`);
    html = html.replace(tag, () => `<script>\n${js}</script>`);
  }
  for (const [deployed, source] of Object.entries(STANDALONE_PAGES)) html = html.replaceAll(`href="${source}"`, `href="${deployed}"`);
  return html;
}

/** Each self-contained page by its deployed name (call.html, call-history.html). */
export function standalonePages(apiUrl: string, webDir = WEB_DIR): Record<string, string> {
  return Object.fromEntries(Object.entries(STANDALONE_PAGES).map(([deployed, source]) => [deployed, standalonePage(apiUrl, webDir, source)]));
}

/**
 * For the attribute it is put in. The address is a deploy-time token here (`${Token[…]}`, no such characters) or a
 * URL; quoting it anyway keeps a stray `"` from ending the attribute.
 */
const escapeAttribute = (value: string) => value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

export class WebClient extends Construct {
  readonly bucket: Bucket;

  constructor(scope: Construct, id: string, props: WebClientProps) {
    super(scope, id);
    this.bucket = new Bucket(this, 'Bucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // Holds nothing but a copy of web/: the deployment empties it on delete (retainOnDelete: false), so it can go.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'Holds only a copy of the repository\'s web/ page (no caller data), read through presigned links; server access logs would need a second bucket for nothing worth auditing.',
    });

    const logGroup = new LogGroup(this, 'DeploymentLogs', {
      retention: props.logRetention,
      removalPolicy: props.retainLogs ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    // Its own role rather than the default one: no managed policy, logs only to its own group. The deployment adds
    // what it needs on the asset bucket and this bucket.
    const role = new Role(this, 'DeploymentRole', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: 'voice agent web client: copies web/ into its bucket at deploy time',
    });
    role.addToPrincipalPolicy(new PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));

    new BucketDeployment(this, 'Deployment', {
      sources: [Source.asset(WEB_DIR), ...Object.entries(standalonePages(props.apiUrl)).map(([name, html]) => Source.data(name, html))],
      destinationBucket: this.bucket,
      retainOnDelete: false,
      role,
      logGroup,
      // 128 MB is plenty to copy a few KB; the default 1024 MB would be billed for nothing.
      memoryLimit: 128,
    });
    // The grants BucketDeployment makes to copy the page: read the zipped asset from the CDK asset bucket, replace
    // this bucket's objects (prune deletes files removed from web/). Object keys are only known at deploy time.
    const stack = Stack.of(this);
    const bucketId = stack.getLogicalId(this.bucket.node.defaultChild as CfnBucket);
    // cdk-nag names the asset bucket as rendered: account, region and partition concrete when the CLI knows them.
    const shown = (value: string, pseudo: string) => (Token.isUnresolved(value) ? `<AWS::${pseudo}>` : value);
    const qualifier = (this.node.tryGetContext('@aws-cdk/core:bootstrapQualifier') as string | undefined) ?? DefaultStackSynthesizer.DEFAULT_QUALIFIER;
    const assets = `arn:${shown(stack.partition, 'Partition')}:s3:::cdk-${qualifier}-assets-${shown(stack.account, 'AccountId')}-${shown(stack.region, 'Region')}/*`;
    const reason = (what: string) => `BucketDeployment's own grant to ${what}; it runs only while the stack deploys.`;
    Validations.of(role).acknowledge(
      { id: 'AwsSolutions-IAM5[Action::s3:GetObject*]', reason: reason('read the page\'s asset zip') },
      { id: 'AwsSolutions-IAM5[Action::s3:GetBucket*]', reason: reason('read the asset and page buckets') },
      { id: 'AwsSolutions-IAM5[Action::s3:List*]', reason: reason('list the page bucket (to prune files removed from web/)') },
      { id: `AwsSolutions-IAM5[Resource::${assets}]`, reason: reason('read the CDK asset bucket (asset keys are content hashes)') },
      { id: 'AwsSolutions-IAM5[Action::s3:DeleteObject*]', reason: reason('delete files removed from web/') },
      { id: 'AwsSolutions-IAM5[Action::s3:Abort*]', reason: reason('abort a failed multipart upload') },
      { id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/*]`, reason: reason('write the page\'s files, whatever web/ holds') },
    );
    // The copy runs in a SingletonFunction that BucketDeployment puts at the stack's root, not under this construct.
    for (const child of stack.node.children) {
      if (!child.node.id.startsWith('Custom::CDKBucketDeployment')) continue;
      Validations.of(child).acknowledge({
        id: 'AwsSolutions-L1',
        reason: 'The BucketDeployment handler\'s Python runtime is chosen by aws-cdk-lib, not by this project; it runs only during deployments.',
      });
    }
  }

  /** Where the self-contained page is: open it with `aws s3 presign <this> --expires-in 3600`. */
  get pageS3Uri(): string {
    return `s3://${this.bucket.bucketName}/${STANDALONE_PAGE}`;
  }

  /** Where the self-contained call history page is (opened the same way). */
  get historyPageS3Uri(): string {
    return `s3://${this.bucket.bucketName}/${STANDALONE_HISTORY_PAGE}`;
  }
}
