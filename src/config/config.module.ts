import { Global, Module } from '@nestjs/common';
import { AppConfig } from './app-config';
import { validateEnvironment } from './environment';

/** Provides the one validated AppConfig; a bad variable fails the boot with its name. */
@Global()
@Module({
  providers: [{ provide: AppConfig, useFactory: () => new AppConfig(validateEnvironment(process.env)) }],
  exports: [AppConfig],
})
export class AppConfigModule {}
