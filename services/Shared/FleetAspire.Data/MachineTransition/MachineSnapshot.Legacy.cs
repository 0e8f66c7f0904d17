namespace FleetAspire.Data.Entities;

/// <summary>Today's model: a snapshot names its machine by the legacy string id. The contract replaces it with the relation.</summary>
public partial class MachineSnapshot
{
    /// <summary>Legacy machine id: provider server id (hetzner) or custom machine id (custom).</summary>
    public required string MachineId { get; set; }
}
