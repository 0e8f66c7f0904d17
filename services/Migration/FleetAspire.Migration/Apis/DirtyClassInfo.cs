namespace FleetAspire.Migration.Apis;

/// <summary>A class of dirty row as operators see it: what it means, who handles it, what happens if it is left.</summary>
public sealed record DirtyClassInfo(string Class, string Entity, string Handling, bool Migrated, string Meaning, string IfLeft, long Open);
