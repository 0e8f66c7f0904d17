namespace FleetAspire.Migration.Apis;

/// <summary>Every open report of <paramref name="Class"/> (optionally of one <paramref name="Entity"/>), closed with one recorded reason.</summary>
public sealed record DirtyBulkResolution(string? Class, string? Entity, string? Resolution);
