namespace FleetAspire.Data.Entities;

/// <summary>
/// Today's model: an agent carries copies of its machine's fields. Mapped only from this folder; the contract drops
/// the columns and this file goes with them.
/// </summary>
/// <remarks>
/// <see cref="MachineId"/> means different things per <see cref="MachineType"/>: for <c>hetzner</c> it is the cloud
/// provider's server id, for <c>custom</c> it is <see cref="CustomMachine.Id"/>. Old code reads it with that meaning,
/// which is why the Machine relation is a new column (<see cref="MachineRef"/>) rather than a reinterpretation.
/// </remarks>
public partial class Agent
{
    public string? MachineId { get; set; }
    public string? MachineIpv4 { get; set; }
    /// <summary>Secret. Only the owner's connection-info response may carry it; never logged, traced or listed.</summary>
    public string? MachineSharedKey { get; set; }
    public string? MachineType { get; set; }
}
