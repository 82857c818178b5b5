import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { isISO8601, IsIn, IsOptional, ValidateBy, ValidationOptions } from 'class-validator';
import { EventSource, EventType } from '../message-event.entity';

/** How far a caller's clock may be off ours: occurred_at up to this far ahead of now, or before the send. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i;

function dateTimeProblem(value: unknown): string | null {
  if (typeof value !== 'string' || !DATE_TIME.test(value) || !isISO8601(value, { strict: true })) {
    return 'must be an ISO-8601 date-time with a time zone, e.g. 2025-11-26T10:15:00Z';
  }
  if (Date.parse(value) > Date.now() + MAX_CLOCK_SKEW_MS) return 'must not be more than 5 minutes in the future';
  return null;
}

/** An ISO-8601 date-time with a zone, not more than MAX_CLOCK_SKEW_MS in the future. */
export function IsEventTime(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isEventTime',
      validator: {
        validate: (value) => dateTimeProblem(value) === null,
        defaultMessage: (args) => `${args?.property} ${dateTimeProblem(args?.value)}`,
      },
    },
    options,
  );
}

const EVENT_TYPES = Object.values(EventType);
const SOURCES = Object.values(EventSource);
/** What the booking app may report: machine opens and SMS replies are recorded by the service itself. */
const REPORTED_EVENT_TYPES = EVENT_TYPES.filter((type) => type !== EventType.MachineOpen);
const REPORTED_SOURCES = [EventSource.Email, EventSource.Sms];

export class RecordEventRequestDto {
  @ApiProperty({ enum: REPORTED_EVENT_TYPES, example: EventType.MessageClicked })
  @IsIn(REPORTED_EVENT_TYPES, { message: `event_type must be one of: ${REPORTED_EVENT_TYPES.join(', ')}` })
  event_type: EventType;

  @ApiProperty({ enum: REPORTED_SOURCES, example: EventSource.Email, description: 'The channel the customer came from' })
  @IsIn(REPORTED_SOURCES, { message: `source must be one of: ${REPORTED_SOURCES.join(', ')}` })
  source: EventSource;

  @ApiPropertyOptional({
    format: 'date-time',
    example: '2025-11-26T10:15:00Z',
    description: 'When it happened; defaults to now. At most 5 minutes in the future, and not before the message was sent (5 minutes of clock skew allowed).',
  })
  @IsOptional()
  @IsEventTime()
  occurred_at?: string;
}

export class MessageEventResponseDto {
  @ApiProperty({ format: 'uuid', example: '7d9f3a52-1c4e-4b8a-9f0d-2e6b5c8a1f34' })
  id: string;

  @ApiProperty({ format: 'uuid', example: '4f0c6c7e-2d1b-4c8a-9a53-0c1d5e9b7a11' })
  message_id: string;

  @ApiProperty({ format: 'uuid', example: '229211b0-9cf4-4e36-b707-d593034bfb0f' })
  customer_id: string;

  @ApiProperty({ enum: EVENT_TYPES, example: EventType.MessageClicked })
  event_type: EventType;

  @ApiProperty({ enum: SOURCES, example: EventSource.Email })
  source: EventSource;

  @ApiProperty({ format: 'date-time', example: '2025-11-26T10:15:00.000Z' })
  occurred_at: string;

  @ApiProperty({ example: false, description: 'True when this event was already stored; nothing was recorded again' })
  duplicate: boolean;
}
