import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

class FieldErrorDto {
  @ApiProperty({ example: 'customer_id' })
  field: string;

  @ApiProperty({ example: 'customer_id must be a UUID' })
  message: string;
}

export class ErrorResponseDto {
  @ApiProperty({ example: 400 })
  statusCode: number;

  @ApiProperty({ example: 'VALIDATION_FAILED' })
  code: string;

  @ApiProperty({ example: 'invalid request: customer_id must be a UUID' })
  message: string;

  @ApiPropertyOptional({ type: [FieldErrorDto] })
  errors?: FieldErrorDto[];

  @ApiProperty({ example: '4f0c6c7e-2d1b-4c8a-9a53-0c1d5e9b7a11' })
  correlationId: string;
}
