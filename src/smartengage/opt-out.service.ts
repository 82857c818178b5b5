import { Injectable, Logger } from '@nestjs/common';
import { DeepLinkService } from '../messaging/deep-link.service';
import { CustomerRepository } from '../segmentation/customer.repository';
import { invalidUnsubscribeLink, unsubscribeLinkOfNoCustomer } from './smartengage.exceptions';

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
      throw unsubscribeLinkOfNoCustomer();
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
    if (!claims) throw invalidUnsubscribeLink();
    return claims;
  }
}
