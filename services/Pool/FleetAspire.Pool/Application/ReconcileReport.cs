namespace FleetAspire.Pool.Application;

public sealed record ReconcileReport(bool Ran, int Promoted, int Removed, int Provisioned, int Retired);
