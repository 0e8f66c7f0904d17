namespace FleetAspire.Migration.Apis;

public sealed record Page<T>(IReadOnlyList<T> Items, string? NextCursor);
