namespace FleetAspire.Migration.Apis;

public sealed record DirtyBulkResolved(string Class, string? Entity, int Resolved);
