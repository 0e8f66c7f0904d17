namespace FleetAspire.Data.Entities;

/// <summary>One health probe result: related by <see cref="MachineRef"/>, named to clients by <see cref="MachineId"/>.</summary>
public partial class MachineHealthCheck
{
    public long Id { get; set; }
    public required string AgentId { get; set; }
    /// <summary>The machine as clients know it (provider server id or custom machine id), written once with the row.</summary>
    public required string MachineId { get; set; }
    public required string Outcome { get; set; }
    public int? LatencyMs { get; set; }
    public DateTimeOffset CheckedAt { get; set; }
    /// <summary>The relation to <see cref="Machine"/>: a required foreign key (optional while the migration runs).</summary>
    public string? MachineRef { get; set; }
}
