namespace FleetAspire.Data.Entities;

/// <summary>
/// A pre-provisioned cloud server waiting in the pool. Claiming copies it onto an <see cref="Agent"/> and deletes this row.
/// </summary>
/// <remarks>
/// Addition to the seed's model: <see cref="SharedKey"/>. The key is minted when the pool provisions the server and is
/// handed to it as cloud-init user data, so an agent that claims the machine can talk to it (docs/adr/0004).
/// <see cref="MachineId"/> and <see cref="Ipv4"/> are null only between inserting the row and the provider's answer.
/// </remarks>
public class ParkedMachine
{
    public required string Id { get; set; }
    /// <summary>The cloud provider's server id.</summary>
    public string? MachineId { get; set; }
    public required string MachineName { get; set; }
    public string? Ipv4 { get; set; }
    public string Status { get; set; } = ParkedMachineStatus.Launching;
    public required string SharedKey { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}

public static class ParkedMachineStatus
{
    public const string Launching = "launching";
    public const string Ready = "ready";
}
