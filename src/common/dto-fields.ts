import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsInt, IsOptional, Matches, Max, Min } from 'class-validator';

/**
 * Any 8-4-4-4-12 hex id, as Postgres' uuid type accepts: the demo's plumbing service id
 * (c3d4e5f6-a7b8-4c9d-0e1f-…) has no RFC 4122 variant bits, so IsUUID() would reject it.
 */
export const UUID_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Lower-cases strings (and arrays of them): Postgres returns uuids in lower case, and ids are compared as text. */
export const lowerCase = ({ value }: { value: unknown }): unknown =>
  Array.isArray(value) ? value.map((item) => lowerCase({ value: item })) : typeof value === 'string' ? value.trim().toLowerCase() : value;

/** Upper-cases strings and leaves everything else for the validators to reject. */
export const upperCase = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim().toUpperCase() : value);

interface Doc {
  example?: unknown;
  description?: string;
  default?: unknown;
}

/** The request fields several routes share, each with its validation, its error message and its docs. */
export const Field = {
  uuid(name: string, doc: Doc & { required?: boolean } = {}) {
    const { required = false, ...rest } = doc;
    const validate = applyDecorators(Transform(lowerCase), Matches(UUID_SHAPE, { message: `${name} must be a UUID` }));
    return required
      ? applyDecorators(ApiProperty({ type: 'string', format: 'uuid', ...rest }), validate)
      : applyDecorators(ApiPropertyOptional({ type: 'string', format: 'uuid', nullable: true, ...rest }), IsOptional(), validate);
  },

  optionalInt(name: string, min: number, max: number, doc: Doc = {}) {
    const range = `${name} must be between ${min} and ${max}`;
    return applyDecorators(
      ApiPropertyOptional({ type: 'integer', minimum: min, maximum: max, ...doc }),
      IsOptional(),
      IsInt({ message: `${name} must be a whole number` }),
      Min(min, { message: range }),
      Max(max, { message: range }),
    );
  },

  promoCode(doc: Doc = {}) {
    return applyDecorators(
      ApiPropertyOptional({ type: 'string', nullable: true, description: 'An active code from the promo_codes table', ...doc }),
      IsOptional(),
      Transform(upperCase),
      Matches(/^[A-Z0-9]{3,20}$/, { message: 'promo_code must be 3-20 letters or digits' }),
    );
  },

  channel(doc: Doc = {}) {
    return applyDecorators(
      ApiPropertyOptional({ enum: ['email', 'sms'], default: 'email', example: 'email', ...doc }),
      IsOptional(),
      Transform(upperCase),
      IsIn(['EMAIL', 'SMS'], { message: 'channel must be email or sms' }),
    );
  },
};
