using FleetAspire.Contracts.Machines;
using FleetAspire.Contracts.Snapshots;
using FleetAspire.Data;
using FleetAspire.Data.Assignments;
using FleetAspire.Data.Entities;
using FleetAspire.Data.Writes;
using FleetAspire.Messaging;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace FleetAspire.Agents.Consumers;

/// <summary>
/// Sets an agent's status from its machine's health checks. The status is recomputed from the stored checks rather
/// than taken from the message, so duplicates and out-of-order deliveries converge on the same answer (idempotent),
/// and an event about a machine the agent no longer holds changes nothing.
/// </summary>
public sealed class MachineHealthConsumer(FleetDbContext db, IAssignmentWrites assignments, IConfiguration configuration, TimeProvider time)
    : IConsumer<MachineBecameUnhealthy>, IConsumer<MachineRecovered>
{
    public Task Consume(ConsumeContext<MachineBecameUnhealthy> context) =>
        ApplyAsync(context.Message.AgentId, context.Message.MachineId, context.CancellationToken);

    public Task Consume(ConsumeContext<MachineRecovered> context) =>
        ApplyAsync(context.Message.AgentId, context.Message.MachineId, context.CancellationToken);

    private Task ApplyAsync(string agentId, string machineId, CancellationToken cancellationToken) =>
        db.Database.CreateExecutionStrategy().ExecuteAsync(async () =>
        {
            await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
            var agent = await AgentLocks.LockAgentAsync(db, agentId, ownerFilter: null, cancellationToken);
            if (agent is null || agent.Status is not (AgentStatus.Active or AgentStatus.Unhealthy)
                || (await assignments.HeldAsync(agent, cancellationToken))?.MachineId != machineId)
            {
                return false;
            }

            var threshold = configuration.GetValue(MachineHealth.ThresholdConfig, MachineHealth.DefaultThreshold);
            var status = await MachineHealth.IsUnhealthyAsync(db, agentId, machineId, threshold, cancellationToken)
                ? AgentStatus.Unhealthy
                : AgentStatus.Active;
            if (agent.Status != status)
            {
                agent.Status = status;
                agent.UpdatedAt = time.GetUtcNow();
                await db.SaveChangesAsync(cancellationToken);
            }

            await tx.CommitAsync(cancellationToken);
            return true;
        });
}
