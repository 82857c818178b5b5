import { HttpStatus, Injectable, Logger } from '@nestjs/common';
import { AppException, ErrorCode } from '../common/app.exception';
import { DeepLinkService } from '../messaging/deep-link.service';
import { CustomerRepository } from '../segmentation/customer.repository';

/** Opts customers out from the signed link in their messages. */
@Injectable()
export class OptOutService {
  private readonly logger = new Logger(OptOutService.name);

  constructor(
    private readonly links: DeepLinkService,
    private readonly customers: CustomerRepository,
  ) {}

  /** Checks the link's token without changing anything (the confirmation page). */
  verify(token: string): void {
    this.claimsOf(token);
  }

  async optOut(token: string, source: string): Promise<void> {
    const claims = this.claimsOf(token);
    if (!(await this.customers.optOut(claims.sub, source))) {
      throw AppException.notFound(ErrorCode.CustomerNotFound, 'this unsubscribe link belongs to no customer');
    }
    this.logger.log({
      msg: `Customer opted out (${source})`,
      customerId: claims.sub,
      messageId: claims.message_id,
      source,
    });
  }

  private claimsOf(token: string) {
    const claims = this.links.verifyUnsubscribeToken(token);
    if (!claims) throw new AppException(ErrorCode.InvalidToken, 'this unsubscribe link is not valid', HttpStatus.BAD_REQUEST);
    return claims;
  }
}
