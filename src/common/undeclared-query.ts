import { CallHandler, ExecutionContext, Injectable, NestInterceptor, SetMetadata } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { Observable } from 'rxjs';
import { ValidationFailedException } from './validation';

const IGNORES_UNDECLARED_QUERY = 'ignoresUndeclaredQuery';

/**
 * For the links a customer's mail client opens (/r/, /o/, /unsubscribe/): link rewriters and security
 * scanners append their own parameters (utm_*, tracking ids), and a click answered 400 is a customer lost.
 * Such routes read no query, so extra parameters are ignored there and reach nothing.
 */
export const IgnoresUndeclaredQuery = () => SetMetadata(IGNORES_UNDECLARED_QUERY, true);

type RouteArgs = Record<string, { index: number; data?: unknown }>;

/**
 * Undeclared query parameters get a 400 naming them, as undeclared body fields do: a route with a query DTO
 * leaves that to the validation pipe (whitelist); any other route accepts only the parameters it reads by name.
 */
@Injectable()
export class UndeclaredQueryInterceptor implements NestInterceptor {
  constructor(private readonly reflector: Reflector) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const query = context.switchToHttp().getRequest<Request>().query;
    const keys = Object.keys(query ?? {});
    if (keys.length === 0) return next.handle();
    if (this.reflector.getAllAndOverride<boolean>(IGNORES_UNDECLARED_QUERY, [context.getHandler(), context.getClass()])) {
      return next.handle();
    }
    const args: RouteArgs = Reflect.getMetadata(ROUTE_ARGS_METADATA, context.getClass(), context.getHandler().name) ?? {};
    const declared = new Set<string>();
    for (const [key, { data }] of Object.entries(args)) {
      if (!key.startsWith(`${RouteParamtypes.QUERY}:`)) continue;
      if (typeof data !== 'string') return next.handle(); // a whole-query DTO: the validation pipe checks it
      declared.add(data);
    }
    const unknown = keys.filter((key) => !declared.has(key));
    if (unknown.length === 0) return next.handle();
    throw new ValidationFailedException(
      unknown.slice(0, 10).map((key) => {
        const field = key.length > 64 ? `${key.slice(0, 64)}…` : key;
        return { field, message: `${field} is not a known query parameter` };
      }),
    );
  }
}
