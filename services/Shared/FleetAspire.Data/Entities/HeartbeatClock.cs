namespace FleetAspire.Data.Entities;

/// <summary>
/// The newest signed timestamp accepted from a machine's heartbeats: a heartbeat must carry a later one, so a captured
/// request replayed inside the clock-skew window is refused (docs/adr/0007).
/// </summary>
public class HeartbeatClock
{
    /// <summary>The machine as it signs its heartbeats (provider server id or custom machine id).</summary>
    public required string MachineId { get; set; }

    /// <summary>Unix seconds, as signed.</summary>
    public long LastTimestamp { get; set; }
}
