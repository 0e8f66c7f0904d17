using FleetAspire.Contracts.Pool;
using FleetAspire.Data.Entities;
using FleetAspire.Data.Outbox;
using Microsoft.EntityFrameworkCore;

namespace FleetAspire.Data.MachineTransition;

/// <summary>
/// Attaching a machine to an agent and detaching it, in today's model: the agent carries copies of the machine's
/// fields and a custom machine points back at its agent. Every caller runs these inside its own transaction, after
/// locking the agent row first and the custom machine row second (one lock order everywhere, so no deadlocks).
/// </summary>
public static class MachineAssignments
{
    /// <summary>Locks an agent row for the rest of the caller's transaction; null if missing or not visible.</summary>
    public static Task<Agent?> LockAgentAsync(FleetDbContext db, string agentId, string? ownerFilter, CancellationToken cancellationToken) =>
        db.Agents
            .FromSql($"SELECT * FROM agents WHERE id = {agentId} FOR UPDATE")
            .Where(a => ownerFilter == null || a.UserId == ownerFilter)
            .FirstOrDefaultAsync(cancellationToken);

    public static Task<CustomMachine?> LockCustomMachineAsync(FleetDbContext db, string machineId, string? ownerFilter, CancellationToken cancellationToken) =>
        db.CustomMachines
            .FromSql($"SELECT * FROM custom_machines WHERE id = {machineId} FOR UPDATE")
            .Where(c => ownerFilter == null || c.UserId == ownerFilter)
            .FirstOrDefaultAsync(cancellationToken);

    /// <summary>Copies a custom machine onto an idle agent and links it back. The caller saves and commits.</summary>
    public static void AttachCustom(Agent agent, CustomMachine machine, DateTimeOffset now)
    {
        machine.CurrentAgentId = agent.Id;
        machine.UpdatedAt = now;
        agent.MachineId = machine.Id;
        agent.MachineIpv4 = machine.Ipv4;
        agent.MachineSharedKey = machine.SharedKey;
        agent.MachineType = MachineTypes.Custom;
        agent.Status = AgentStatus.Active;
        agent.UpdatedAt = now;
    }

    /// <summary>
    /// Detaches the agent's machine: clears the four legacy fields, frees a custom machine's <c>current_agent_id</c>,
    /// and enqueues <see cref="MachineReleased"/> (the pool destroys a hetzner server on it). The caller saves and commits.
    /// </summary>
    public static async Task DetachAsync(FleetDbContext db, Agent agent, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var machineId = agent.MachineId ?? throw new InvalidOperationException($"Agent {agent.Id} holds no machine.");
        var machineType = agent.MachineType ?? MachineTypes.Hetzner;
        if (machineType == MachineTypes.Custom)
        {
            await db.CustomMachines
                .Where(c => c.Id == machineId && c.CurrentAgentId == agent.Id)
                .ExecuteUpdateAsync(s => s.SetProperty(c => c.CurrentAgentId, (string?)null).SetProperty(c => c.UpdatedAt, now), cancellationToken);
        }

        agent.MachineId = null;
        agent.MachineIpv4 = null;
        agent.MachineSharedKey = null;
        agent.MachineType = null;
        agent.Status = AgentStatus.Idle;
        agent.UpdatedAt = now;
        db.Enqueue(agent.Id, new MachineReleased
        {
            AgentId = agent.Id,
            MachineId = machineId,
            MachineType = machineType,
            ReleasedAt = now,
        });
    }
}
