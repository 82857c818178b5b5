/** What messaging needs to know about a customer; read in one query. */
export interface CustomerProfile {
  id: string;
  name: string;
  email: string | null;
  phone: string | null;
  lastBookingAt: Date | null;
  lastBookingServiceId: string | null;
  totalBookings: number;
  optedOutAt: Date | null;
}
