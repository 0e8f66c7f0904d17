namespace FleetAspire.Pool.Application;

/// <summary>One pool machine as the pool API lists it.</summary>
public sealed record PoolMachineView(string Id, string? ProviderId, string? Name, string? Ipv4, string Status, DateTimeOffset CreatedAt);
