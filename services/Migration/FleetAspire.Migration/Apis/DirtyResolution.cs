namespace FleetAspire.Migration.Apis;

/// <param name="Class">Optional: only this class of report on the row (default: every open report on it).</param>
/// <param name="Resolution">Why the row may go as it is — recorded, shown in <c>GET /api/migration/dirty</c>.</param>
public sealed record DirtyResolution(string? Entity, string? EntityId, string? Class, string? Resolution);
