namespace FleetAspire.Agents.Apis;

public sealed record PageResponse<T>(IReadOnlyList<T> Items, string? NextCursor);
