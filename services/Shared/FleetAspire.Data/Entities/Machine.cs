namespace FleetAspire.Data.Entities;

/// <summary>
/// The unified machine of the refactor (shared/seed/machine-decoupling-refactor.md): pool and custom machines in
/// one table that agents, snapshots and health checks relate to.
/// </summary>
/// <remarks>
/// The assignment is stored once, on <see cref="Agent.MachineRef"/> (unique: one agent per machine; one column: one
/// machine per agent); <see cref="CurrentAgent"/> is the inverse navigation of it (docs/adr/0009).
/// </remarks>
public class Machine
{
    public const int DefaultPort = 8911;

    /// <summary>Derived from the legacy id by <c>fleet_machine_id(type, legacy_id)</c>, the one derivation function.</summary>
    public required string Id { get; set; }
    public required string Type { get; set; }
    /// <summary>The cloud provider's server id; hetzner machines only.</summary>
    public string? HetznerMachineId { get; set; }
    public string? Name { get; set; }
    public required string Ipv4 { get; set; }
    /// <summary>Secret: never logged, traced, listed or reported except as a keyed fingerprint.</summary>
    public required string SharedKey { get; set; }
    public int Port { get; set; } = DefaultPort;
    public string Status { get; set; } = MachineStatus.Offline;
    /// <summary>Owner of a custom machine.</summary>
    public string? UserId { get; set; }
    public string? Os { get; set; }
    public string? Arch { get; set; }
    public int? CpuCount { get; set; }
    public int? MemoryGb { get; set; }
    public DateTimeOffset LastSeenAt { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    /// <summary>The id in the legacy model it came from: provider server id (hetzner) or custom machine id (custom).</summary>
    public required string LegacyId { get; set; }

    public Agent? CurrentAgent { get; set; }
}
