namespace FleetAspire.Data;

/// <summary>
/// Ids are a type prefix plus a UUIDv7 in hex: time-ordered, so keyset paging by id is creation order and inserts
/// stay at the right edge of the index.
/// </summary>
public static class EntityIds
{
    public const string Agent = "agt";
    public const string ParkedMachine = "pm";
    public const string CustomMachine = "cm";
    public const string Snapshot = "snap";

    public static string New(string prefix) => $"{prefix}_{Guid.CreateVersion7():N}";
}
