import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Logger as PinoNestLogger } from 'nestjs-pino';
import { DataSource } from 'typeorm';
import { AppModule } from './app.module';
import { resolveDatabase } from './bootstrap-database';
import { AppConfig } from './config/app-config';
import { InvalidEnvironmentError, validateEnvironment } from './config/environment';
import { seedDemoData } from './database/demo-seed';
import { setupApp } from './setup-app';

async function bootstrap(): Promise<void> {
  // The environment is read and validated here, once; everything else gets the AppConfig built from it.
  const env = validateEnvironment(process.env);
  const { url, embedded } = await resolveDatabase(env);
  const config = new AppConfig({ ...env, DATABASE_URL: url });

  // Nest's own lines are held until the app logger (AppLoggerModule: JSON or pretty, per LOG_FORMAT) exists.
  // rawBody: the SMS webhook's signature covers the body as sent.
  const app = await NestFactory.create(AppModule.forRoot(config), { bufferLogs: true, rawBody: true });
  app.useLogger(app.get(PinoNestLogger));
  setupApp(app);
  await app.init(); // runs migrations (DatabaseModule) before the demo seed below
  const log = new Logger('Bootstrap');
  if (embedded) {
    await seedDemoData(app.get(DataSource));
    log.log('Demo customers, services and bookings are loaded');
  }
  if (config.auth.adminApiKeys.length === 0) {
    log.warn('ADMIN_API_KEYS is not set: admin and internal routes are open to loopback clients only');
  }
  if (config.auth.jwtSecretIsDefault) log.warn('JWT_SECRET is not set: using the development secret');
  if (config.sms.gatewayUrl && !config.sms.inboundSecret) {
    log.warn('SMS_GATEWAY_URL is set without SMS_INBOUND_SECRET: every SMS tells customers to reply STOP, and no reply is received');
  }
  if (!config.openai.apiKey) log.log('OPENAI_API_KEY is not set: messages come from the built-in Bengali templates');

  await app.listen(config.port);
  const mode = config.redis.url ? `queue mode, APP_ROLE=${config.queue.role}` : 'in-process deliveries';
  if (config.queue.role === 'worker') {
    log.log(`SmartEngage delivery worker (${mode}, ${config.queue.workerConcurrency} at a time per queue); /health and /metrics on port ${config.port}`);
  } else {
    log.log(`SmartEngage listening on http://localhost:${config.port} (API docs at /docs; ${mode})`);
  }

  // Ctrl-C or a stop: the app's shutdown hooks first (they may still write to the database), then the embedded
  // database if this process started it, then exit with the signal as the default handler would.
  const shutdown = async (signal: NodeJS.Signals) => {
    try {
      // NestApplication.close takes the signal for the shutdown hooks (which log it); its interface does not say so.
      await (app as unknown as { close(signal: string): Promise<void> }).close(signal);
    } finally {
      await embedded?.stop();
    }
    process.kill(process.pid, signal);
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, (received) => void shutdown(received));
}

bootstrap().catch((error: unknown) => {
  if (error instanceof InvalidEnvironmentError) {
    console.error(error.message);
  } else {
    console.error('SmartEngage failed to start:', error instanceof Error ? (error.stack ?? error.message) : error);
  }
  process.exit(1);
});
