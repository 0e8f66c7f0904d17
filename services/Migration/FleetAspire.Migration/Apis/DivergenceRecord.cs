namespace FleetAspire.Migration.Apis;

public sealed record DivergenceRecord(string Entity, string EntityId, string Field, string Kind, string? LegacyValue, string? MachineValue,
    string Source, DateTimeOffset FirstSeen, DateTimeOffset LastSeen, DateTimeOffset? ResolvedAt);
