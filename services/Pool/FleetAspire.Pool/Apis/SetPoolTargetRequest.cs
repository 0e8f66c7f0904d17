namespace FleetAspire.Pool.Apis;

public sealed record SetPoolTargetRequest(int? TargetSize);
