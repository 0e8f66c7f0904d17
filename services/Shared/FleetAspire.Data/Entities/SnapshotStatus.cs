namespace FleetAspire.Data.Entities;

public static class SnapshotStatus
{
    /// <summary>Row written, provider image requested.</summary>
    public const string Creating = "creating";
    public const string Available = "available";
    /// <summary>The provider refused; no image exists.</summary>
    public const string Failed = "failed";
}
