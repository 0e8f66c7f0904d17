namespace FleetAspire.Migration.Apis;

public sealed record DirtyResolved(string Entity, string EntityId, int Resolved);
