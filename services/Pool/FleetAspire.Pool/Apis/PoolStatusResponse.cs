namespace FleetAspire.Pool.Apis;

public sealed record PoolStatusResponse(int TargetSize, int Launching, int Ready, string Provider, DateTimeOffset TargetUpdatedAt);
