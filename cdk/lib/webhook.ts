// Arrivals that senders push (README "Webhooks"): an API Gateway HTTP API whose two routes,
// `POST /tables/{table}/arrivals` and `GET /arrivals/{id}`, are the receive function
// (sluice_steps::receive, as `sluice serve` runs it locally), a Lambda proxy integration with
// payload format 2.0. The function writes each body under its table's prefix
// (`<prefix>webhook/<id>.<ext>`), and the object's S3 event starts its ingestion like any
// other; GET answers from the ledger.
//
// Who may call it (`webhookAuth`): `iam` (the default), AWS_IAM authorization on both routes,
// with a managed policy callers attach (execute-api:Invoke on the two routes only); or
// `secret`, no authorizer, and the function checks each request's HMAC signature
// (`X-Sluice-Signature-256`) with a secret the stack generates in Secrets Manager.
//
// One stage, `$default`, deployed on every change, throttled, its access log in a log group of
// its own (requests, never bodies).

import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';

/** How callers of the webhook are authenticated. */
export type WebhookAuth = 'iam' | 'secret';

/** The routes, each with the resource path of its execute-api ARN (`{param}` as `*`). */
export const WEBHOOK_ROUTES = [
  { method: apigw.HttpMethod.POST, path: '/tables/{table}/arrivals', arnPath: 'tables/*/arrivals' },
  { method: apigw.HttpMethod.GET, path: '/arrivals/{id}', arnPath: 'arrivals/*' },
] as const;

/**
 * The largest body taken by default, and at most (bytes): Lambda takes a request of up to 6 MB,
 * and API Gateway passes a body it deems binary base64-encoded, a third larger.
 */
export const WEBHOOK_MAX_BODY = 4 * 1024 * 1024;

/** The stage's throttling by default: requests per second, and the burst above it. */
export const WEBHOOK_THROTTLE = { rateLimit: 100, burstLimit: 200 } as const;

export interface WebhookThrottle {
  /** Steady requests per second. Default 100. */
  readonly rateLimit?: number;
  /** Requests above the rate taken at once. Default 200. */
  readonly burstLimit?: number;
}

export interface WebhookProps {
  readonly receive: lambda.Function;
  /** Default `iam`. */
  readonly auth?: WebhookAuth;
  /** SLUICE_WEBHOOK_MAX_BODY of the function. Default (and at most) WEBHOOK_MAX_BODY. */
  readonly maxBodyBytes?: number;
  readonly throttle?: WebhookThrottle;
  /** Encrypts the access log and the secret. */
  readonly key?: kms.IKey;
  readonly logRetention: logs.RetentionDays;
}

export class Webhook {
  readonly api: apigw.HttpApi;
  readonly stage: apigw.HttpStage;
  readonly auth: WebhookAuth;
  readonly accessLogs: logs.LogGroup;
  /** With `secret`: the HMAC key, generated. */
  readonly secret?: secretsmanager.Secret;
  /** With `iam`: what a caller's role or user attaches to call the two routes. */
  readonly invokePolicy?: iam.ManagedPolicy;

  constructor(scope: Stack, props: WebhookProps) {
    const { receive, key } = props;
    const auth = props.auth ?? 'iam';
    if (auth !== 'iam' && auth !== 'secret') {
      throw new Error(`sluice: webhookAuth ${JSON.stringify(auth)} is neither iam nor secret`);
    }
    this.auth = auth;
    const maxBody = props.maxBodyBytes ?? WEBHOOK_MAX_BODY;
    if (!Number.isInteger(maxBody) || maxBody < 1 || maxBody > WEBHOOK_MAX_BODY) {
      throw new Error(
        `sluice: webhookMaxBody ${JSON.stringify(props.maxBodyBytes)} must be a whole number of bytes from 1 to ${WEBHOOK_MAX_BODY} (Lambda takes a request of at most 6 MB)`,
      );
    }
    const throttle = {
      rateLimit: props.throttle?.rateLimit ?? WEBHOOK_THROTTLE.rateLimit,
      burstLimit: props.throttle?.burstLimit ?? WEBHOOK_THROTTLE.burstLimit,
    };
    for (const [name, v] of Object.entries(throttle)) {
      if (!Number.isInteger(v) || v < 1) {
        throw new Error(`sluice: webhook throttle ${name} ${JSON.stringify(v)} must be a whole number, at least 1`);
      }
    }

    this.api = new apigw.HttpApi(scope, 'WebhookApi', {
      description: 'sluice: arrivals pushed by senders (POST /tables/{table}/arrivals, GET /arrivals/{id})',
      // The stage below, with throttling and an access log, instead of the bare default one.
      createDefaultStage: false,
    });
    this.accessLogs = new logs.LogGroup(scope, 'WebhookAccessLogs', {
      retention: props.logRetention,
      encryptionKey: key,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.stage = new apigw.HttpStage(scope, 'WebhookStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle,
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            time: '$context.requestTime',
            ip: '$context.identity.sourceIp',
            caller: '$context.identity.userArn',
            route: '$context.routeKey',
            path: '$context.path',
            status: '$context.status',
            bytes: '$context.responseLength',
            latency: '$context.responseLatency',
            integrationStatus: '$context.integration.status',
            integrationError: '$context.integrationErrorMessage',
            error: '$context.error.message',
          }),
        ),
      },
    });

    const integration = new HttpLambdaIntegration('ReceiveIntegration', receive, {
      payloadFormatVersion: apigw.PayloadFormatVersion.VERSION_2_0,
      timeout: Duration.seconds(29),
    });
    const authorizer = auth === 'iam' ? new HttpIamAuthorizer() : undefined;
    for (const r of WEBHOOK_ROUTES) {
      this.api.addRoutes({ path: r.path, methods: [r.method], integration, authorizer });
    }
    receive.addEnvironment('SLUICE_WEBHOOK_MAX_BODY', String(maxBody));

    if (auth === 'iam') {
      // The two routes on any stage, by the ARNs IAM checks execute-api:Invoke against.
      const routeArn = (r: (typeof WEBHOOK_ROUTES)[number]) =>
        scope.formatArn({
          service: 'execute-api',
          resource: this.api.apiId,
          resourceName: `*/${r.method}/${r.arnPath}`,
          arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
        });
      this.invokePolicy = new iam.ManagedPolicy(scope, 'WebhookInvokePolicy', {
        description: 'sluice: call the webhook (POST /tables/{table}/arrivals, GET /arrivals/{id}); attach to the senders',
        statements: [
          new iam.PolicyStatement({
            sid: 'InvokeWebhook',
            actions: ['execute-api:Invoke'],
            resources: WEBHOOK_ROUTES.map(routeArn),
          }),
        ],
      });
    } else {
      this.secret = new secretsmanager.Secret(scope, 'WebhookSecret', {
        description: 'sluice: the key of the webhook requests\' HMAC-SHA256 signatures (X-Sluice-Signature-256)',
        encryptionKey: key,
        generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
      });
      // Read by the function (access.ts, `webhookSecret`), by ARN: never in its environment.
      receive.addEnvironment('SLUICE_WEBHOOK_SECRET_ARN', this.secret.secretArn);
    }
  }
}
