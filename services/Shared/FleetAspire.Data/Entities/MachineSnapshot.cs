namespace FleetAspire.Data.Entities;

/// <summary>A disk image of a machine: related by <see cref="MachineRef"/>, named to clients by <see cref="MachineId"/>.</summary>
/// <remarks>
/// Additions to the seed's model: <see cref="UserId"/> and <see cref="AgentId"/> (who took it, from which agent: a
/// snapshot outlives both the assignment and the server, and its owner must still see and delete it) and
/// <see cref="IsFinal"/> (the snapshot taken when an agent is deleted; at most one per agent).
/// </remarks>
public partial class MachineSnapshot
{
    public required string Id { get; set; }
    /// <summary>
    /// The machine as clients know it — provider server id (hetzner) or custom machine id — written once with the row.
    /// Kept after the contract: a snapshot outlives its server, and this is the name its owner saw (docs/adr/0012).
    /// </summary>
    public required string MachineId { get; set; }
    public string? ProviderImageId { get; set; }
    public required string Status { get; set; }
    public long? SizeBytes { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public string? AgentId { get; set; }
    public bool IsFinal { get; set; }
    public required string UserId { get; set; }
    /// <summary>The relation to <see cref="Machine"/>: a required foreign key (optional while the migration runs).</summary>
    public string? MachineRef { get; set; }
}
