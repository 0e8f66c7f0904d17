namespace FleetAspire.Data.Entities;

/// <summary>An AI coding agent. Its machine is a relation (<see cref="MachineRef"/>); see the partial in MachineTransition/ for today's copies.</summary>
public partial class Agent
{
    public required string Id { get; set; }
    public required string Name { get; set; }
    public required string UserId { get; set; }
    public string Status { get; set; } = AgentStatus.Idle;
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>
    /// The relation to <see cref="Entities.Machine"/> (expand phase). A new column, not a reinterpretation of the
    /// legacy <c>machine_id</c>, whose meaning old code keeps reading until the contract renames this one
    /// (docs/adr/0009).
    /// </summary>
    public string? MachineRef { get; set; }
    public Machine? Machine { get; set; }
}
