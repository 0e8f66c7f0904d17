namespace FleetAspire.Data.Entities;

/// <summary>
/// An AI coding agent. Today's (legacy) model keeps the machine it runs on as four columns on this row.
/// </summary>
/// <remarks>
/// <see cref="MachineId"/> means different things per <see cref="MachineType"/>: for <c>hetzner</c> it is the cloud
/// provider's server id, for <c>custom</c> it is <see cref="CustomMachine.Id"/>. Old code reads it with that meaning,
/// which is why the Machine relation of the refactor is a new column rather than a reinterpretation of this one.
/// </remarks>
public class Agent
{
    public required string Id { get; set; }
    public required string Name { get; set; }
    public required string UserId { get; set; }
    public string Status { get; set; } = AgentStatus.Idle;
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }

    public string? MachineId { get; set; }
    public string? MachineIpv4 { get; set; }
    /// <summary>Secret. Only the owner's connection-info response may carry it; never logged, traced or listed.</summary>
    public string? MachineSharedKey { get; set; }
    public string? MachineType { get; set; }
}

public static class AgentStatus
{
    /// <summary>No machine attached.</summary>
    public const string Idle = "idle";
    /// <summary>Running on a machine.</summary>
    public const string Active = "active";
    /// <summary>Running on a machine that has failed its last health checks.</summary>
    public const string Unhealthy = "unhealthy";
    /// <summary>Deletion requested; waiting for the final snapshot before the machine is released.</summary>
    public const string Deleting = "deleting";
}

public static class MachineTypes
{
    public const string Hetzner = "hetzner";
    public const string Custom = "custom";
}
