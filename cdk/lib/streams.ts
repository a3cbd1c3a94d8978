// Arrivals that come as stream records: the stream function (sluice_steps::stream) takes the
// batches Lambda reads from Kinesis Data Streams or Kafka (Amazon MSK, self-managed) and writes
// each table's records as one object, `<prefix>stream/<kind>/<source>/<shard>/<first>-<last>.ndjson`,
// whose S3 event starts its ingestion like any other; its checkpoints and each object's record
// index are under `.sluice/streams/`.
//
// Every source is optional: without one the function is still there, for a mapping added
// later, and so is the dead-letter queue. Each source is an event source mapping from the
// oldest record (TRIM_HORIZON), with partial batch responses (ReportBatchItemFailures: Lambda
// retries from the first record the function could not write), no bisecting (the function
// names the failed record itself), a bounded number of retries, and the dead-letter queue as
// its on-failure destination: a batch given up lands there as a record of its shard and
// positions, which an alarm watches; the records themselves stay in the stream for its
// retention, to be read again after a fix.
//
// Kafka's error handling (retries, partial batch responses, bisecting) is Lambda's in
// provisioned mode only, so the Kafka mappings run on provisioned pollers (at least one, for
// each mapping). An SQS on-failure destination of an MSK cluster, or of brokers in a VPC, is
// reached from that VPC: it needs an SQS VPC endpoint or a NAT there.
//
// One receiver per shard at a time (parallelization factor 1): a shard's checkpoint is moved
// by compare-and-swap, and a second receiver on the shard would only lose the swaps.

import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';

/** A mapping's batching and retries by default. */
export const STREAM_BATCH_SIZE = 1000;
export const STREAM_BATCHING_WINDOW = Duration.seconds(5);
export const STREAM_RETRY_ATTEMPTS = 10;
/** The provisioned pollers of a Kafka mapping at most, by default. */
export const KAFKA_MAXIMUM_POLLERS = 10;

/** Topics of an Amazon MSK cluster, read with the function's role (IAM or unauthenticated). */
export interface MskSource {
  /** `arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>`. */
  readonly clusterArn: string;
  /** One mapping per topic. */
  readonly topics: readonly string[];
  /** Provisioned pollers of each mapping at most. Default 10. */
  readonly maximumPollers?: number;
}

/**
 * Topics of a Kafka cluster of one's own, reached over the internet. Brokers only a VPC
 * reaches would need the VPC, its subnets and a security group, which this does not take.
 */
export interface SelfManagedKafkaSource {
  /** `host:port` of the bootstrap brokers. */
  readonly bootstrapServers: readonly string[];
  /** One mapping per topic. */
  readonly topics: readonly string[];
  /** The Secrets Manager secret with the credentials (`username`, `password`). */
  readonly secretArn: string;
  /** How the credentials are used. Default SASL/SCRAM-512. */
  readonly authentication?: 'SASL_SCRAM_512_AUTH' | 'SASL_SCRAM_256_AUTH' | 'BASIC_AUTH';
  /** Provisioned pollers of each mapping at most. Default 10. */
  readonly maximumPollers?: number;
}

export interface StreamSourcesProps {
  readonly stream: lambda.Function;
  /** Encrypts the dead-letter queue and a stream the stack makes. */
  readonly key?: kms.IKey;
  /** Existing Kinesis data streams, by ARN. */
  readonly kinesisStreamArns?: readonly string[];
  /** A Kinesis data stream made by the stack (on-demand, encrypted). Default false. */
  readonly createKinesisStream?: boolean;
  readonly msk?: MskSource;
  readonly selfManagedKafka?: SelfManagedKafkaSource;
  /** Records in a batch at most (1 to 10,000). Default 1000. */
  readonly batchSize?: number;
  /** How long records are gathered before a batch is delivered (at most 5 minutes). Default 5 s. */
  readonly maxBatchingWindow?: Duration;
  /** Retries of a failed batch before it is given up (0 to 10,000). Default 10. */
  readonly retryAttempts?: number;
}

export class StreamSources {
  /** Stream batches given up after their retries. */
  readonly deadLetterQueue: sqs.Queue;
  /** With `createKinesisStream`. */
  readonly kinesisStream?: kinesis.Stream;

  constructor(scope: Stack, props: StreamSourcesProps) {
    const { stream: fn, key } = props;
    this.deadLetterQueue = new sqs.Queue(scope, 'StreamDeadLetters', {
      encryption: key ? sqs.QueueEncryption.KMS : sqs.QueueEncryption.SQS_MANAGED,
      encryptionMasterKey: key,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const onFailure = new sources.SqsDlq(this.deadLetterQueue);
    const batchSize = props.batchSize ?? STREAM_BATCH_SIZE;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
      throw new Error(`sluice: streamBatchSize ${JSON.stringify(props.batchSize)} must be a whole number from 1 to 10000`);
    }
    const retryAttempts = props.retryAttempts ?? STREAM_RETRY_ATTEMPTS;
    if (!Number.isInteger(retryAttempts) || retryAttempts < 0 || retryAttempts > 10_000) {
      throw new Error(
        `sluice: streamRetryAttempts ${JSON.stringify(props.retryAttempts)} must be a whole number from 0 to 10000`,
      );
    }
    const batching = {
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      batchSize,
      maxBatchingWindow: props.maxBatchingWindow ?? STREAM_BATCHING_WINDOW,
      reportBatchItemFailures: true,
      bisectBatchOnError: false,
      retryAttempts,
      onFailure,
    };

    // ---- Kinesis ----------------------------------------------------------------------
    const kinesisStreams: kinesis.IStream[] = [];
    const arns = props.kinesisStreamArns ?? [];
    arns.forEach((arn, i) => {
      if (!KINESIS_STREAM_ARN.test(arn)) {
        throw new Error(`sluice: kinesisStreamArns: ${JSON.stringify(arn)} is not a Kinesis data stream's ARN`);
      }
      if (arns.indexOf(arn) !== i) throw new Error(`sluice: kinesisStreamArns names ${arn} twice`);
      kinesisStreams.push(kinesis.Stream.fromStreamArn(scope, `KinesisSource${i}`, arn));
    });
    if (props.createKinesisStream) {
      this.kinesisStream = new kinesis.Stream(scope, 'ArrivalsStream', {
        streamMode: kinesis.StreamMode.ON_DEMAND,
        encryption: key ? kinesis.StreamEncryption.KMS : kinesis.StreamEncryption.MANAGED,
        encryptionKey: key,
      });
      kinesisStreams.push(this.kinesisStream);
    }
    for (const s of kinesisStreams) {
      // Grants the read of the stream (and of its key, for the stack's own).
      fn.addEventSource(new sources.KinesisEventSource(s, { ...batching, parallelizationFactor: 1 }));
    }

    // ---- Kafka ------------------------------------------------------------------------
    const pollers = (max: number | undefined, what: string) => {
      const maximumPollers = max ?? KAFKA_MAXIMUM_POLLERS;
      if (!Number.isInteger(maximumPollers) || maximumPollers < 1 || maximumPollers > 2000) {
        throw new Error(`sluice: ${what}.maximumPollers ${JSON.stringify(max)} must be a whole number from 1 to 2000`);
      }
      return { minimumPollers: 1, maximumPollers };
    };
    if (props.msk) {
      const { clusterArn } = props.msk;
      const m = MSK_CLUSTER_ARN.exec(clusterArn);
      if (!m) throw new Error(`sluice: msk.clusterArn ${JSON.stringify(clusterArn)} is not an MSK cluster's ARN`);
      const topics = checkTopics(props.msk.topics, 'msk');
      const provisionedPollerConfig = pollers(props.msk.maximumPollers, 'msk');
      for (const topic of topics) {
        // CDK adds kafka:DescribeCluster, GetBootstrapBrokers and ListScramSecrets on the
        // cluster and attaches AWSLambdaMSKExecutionRole, AWS's documented minimum (the
        // network interfaces Lambda makes in the cluster's VPC, on `*`).
        fn.addEventSource(new sources.ManagedKafkaEventSource({ clusterArn, topic, ...batching, provisionedPollerConfig }));
      }
      // A cluster with IAM access control: connect, read the topics, keep the mappings'
      // consumer groups (named by Lambda, each mapping's id).
      const [, prefix, cluster] = m;
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'MskCluster',
          actions: ['kafka-cluster:Connect', 'kafka-cluster:DescribeClusterDynamicConfiguration'],
          resources: [clusterArn],
        }),
      );
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'MskTopics',
          actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'],
          resources: topics.map((t) => `${prefix}topic/${cluster}/${t}`),
        }),
      );
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'MskConsumerGroups',
          actions: ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'],
          resources: [`${prefix}group/${cluster}/*`],
        }),
      );
    }
    if (props.selfManagedKafka) {
      const k = props.selfManagedKafka;
      if (k.bootstrapServers.length === 0 || k.bootstrapServers.some((b) => !BOOTSTRAP_SERVER.test(b))) {
        throw new Error(
          `sluice: selfManagedKafka.bootstrapServers ${JSON.stringify(k.bootstrapServers)}: give one or more host:port`,
        );
      }
      const topics = checkTopics(k.topics, 'selfManagedKafka');
      if (!SECRET_ARN.test(k.secretArn)) {
        throw new Error(`sluice: selfManagedKafka.secretArn ${JSON.stringify(k.secretArn)} is not a Secrets Manager secret's ARN`);
      }
      // A complete ARN ends in the 6 characters Secrets Manager appends to the name; the grant
      // on a partial one matches any.
      const secret = /-[A-Za-z0-9]{6}$/.test(k.secretArn)
        ? secretsmanager.Secret.fromSecretCompleteArn(scope, 'KafkaSecret', k.secretArn)
        : secretsmanager.Secret.fromSecretPartialArn(scope, 'KafkaSecret', k.secretArn);
      const provisionedPollerConfig = pollers(k.maximumPollers, 'selfManagedKafka');
      for (const topic of topics) {
        // Grants the read of the secret.
        fn.addEventSource(
          new sources.SelfManagedKafkaEventSource({
            bootstrapServers: [...k.bootstrapServers],
            topic,
            secret,
            authenticationMethod: sources.AuthenticationMethod[k.authentication ?? 'SASL_SCRAM_512_AUTH'],
            ...batching,
            provisionedPollerConfig,
          }),
        );
      }
    }
  }
}

const KINESIS_STREAM_ARN = /^arn:aws[a-z-]*:kinesis:[a-z0-9-]+:\d{12}:stream\/[A-Za-z0-9_.-]{1,128}$/;
/** `<prefix>cluster/<name>/<uuid>`: topics and groups are `<prefix>topic/<name>/<uuid>/...`. */
const MSK_CLUSTER_ARN = /^(arn:aws[a-z-]*:kafka:[a-z0-9-]+:\d{12}:)cluster\/([A-Za-z0-9-]+\/[A-Za-z0-9-]+)$/;
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/;
const BOOTSTRAP_SERVER = /^[A-Za-z0-9.-]+:\d{1,5}$/;
/** Kafka's own rule for topic names. */
const KAFKA_TOPIC = /^[A-Za-z0-9._-]{1,249}$/;

function checkTopics(topics: readonly string[], what: string): string[] {
  if (topics.length === 0) throw new Error(`sluice: ${what}.topics: name at least one topic`);
  topics.forEach((t, i) => {
    if (!KAFKA_TOPIC.test(t)) throw new Error(`sluice: ${what}.topics: ${JSON.stringify(t)} is not a Kafka topic name`);
    if (topics.indexOf(t) !== i) throw new Error(`sluice: ${what}.topics names ${t} twice`);
  });
  return [...topics];
}
