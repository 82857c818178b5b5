import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';
import { AppConfig } from '../config/app-config';
import { AppException, ErrorCode } from '../common/app.exception';

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);
const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Admin and internal routes: `Authorization: Bearer <key>` with a key from ADMIN_API_KEYS.
 * With no keys configured (development only; production requires them) loopback callers are let in.
 */
@Injectable()
export class AdminApiKeyGuard implements CanActivate {
  private readonly keys: Buffer[];

  constructor(config: AppConfig) {
    this.keys = config.auth.adminApiKeys.map(digest);
  }

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<Request>();
    if (this.keys.length === 0) {
      if (LOOPBACK.has(request.socket.remoteAddress ?? '')) return true;
      throw new AppException(ErrorCode.Forbidden, 'admin routes are open to loopback clients only while ADMIN_API_KEYS is unset');
    }
    const match = /^Bearer\s+(\S+)$/i.exec(request.header('authorization') ?? '');
    if (!match) {
      throw new AppException(ErrorCode.Unauthorized, 'missing Authorization: Bearer <admin API key>');
    }
    const offered = digest(match[1]);
    if (!this.keys.some((key) => timingSafeEqual(key, offered))) {
      throw new AppException(ErrorCode.Unauthorized, 'the admin API key is not valid');
    }
    return true;
  }
}
