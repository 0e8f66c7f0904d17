namespace FleetAspire.Data.Entities;

public static class MachineStatus
{
    public const string Launching = "launching";
    public const string Ready = "ready";
    public const string InUse = "in_use";
    public const string Offline = "offline";
    /// <summary>
    /// The server is gone but snapshots or health checks still name it: the row stays, invisible to every query, so
    /// their foreign keys hold and a snapshot outlives its server (docs/adr/0014). Removed with its last child.
    /// </summary>
    public const string Destroyed = "destroyed";
}
