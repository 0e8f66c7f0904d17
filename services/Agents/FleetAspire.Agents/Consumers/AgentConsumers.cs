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
/// Finishes an agent's deletion once its final snapshot exists: releases the machine (which sends
/// <c>MachineReleased</c>, so the pool destroys the server) and deletes the agent, in one transaction.
/// Idempotent by nature: a second delivery finds the agent gone (or no longer deleting) and does nothing.
/// </summary>
public sealed class FinalSnapshotTakenConsumer(FleetDbContext db, IWrites<IAssignmentWrites> assignments, OutboxSignal outbox, TimeProvider time) : IConsumer<FinalSnapshotTaken>
{
    public async Task Consume(ConsumeContext<FinalSnapshotTaken> context)
    {
        var message = context.Message;
        var deleted = await assignments.RunAsync(async writes =>
        {
            await using var tx = await db.Database.BeginTransactionAsync(context.CancellationToken);
            var agent = await AgentLocks.LockAgentAsync(db, message.AgentId, ownerFilter: null, context.CancellationToken);
            if (agent is null || agent.Status != AgentStatus.Deleting)
            {
                return false;
            }

            if (writes.HoldsMachine(agent))
            {
                await writes.DetachAsync(agent, time.GetUtcNow(), context.CancellationToken);
            }

            db.Agents.Remove(agent);
            await db.SaveChangesAsync(context.CancellationToken);
            await tx.CommitAsync(context.CancellationToken);
            return true;
        });
        if (deleted)
        {
            outbox.Notify();
        }
    }
}

/// <summary>
/// Sets an agent's status from its machine's health checks. The status is recomputed from the stored checks rather
/// than taken from the message, so duplicates and out-of-order deliveries converge on the same answer (idempotent),
/// and an event about a machine the agent no longer holds changes nothing.
/// </summary>
public sealed class MachineHealthConsumer(FleetDbContext db, IWrites<IAssignmentWrites> assignments, IConfiguration configuration, TimeProvider time)
    : IConsumer<MachineBecameUnhealthy>, IConsumer<MachineRecovered>
{
    public Task Consume(ConsumeContext<MachineBecameUnhealthy> context) =>
        ApplyAsync(context.Message.AgentId, context.Message.MachineId, context.CancellationToken);

    public Task Consume(ConsumeContext<MachineRecovered> context) =>
        ApplyAsync(context.Message.AgentId, context.Message.MachineId, context.CancellationToken);

    private Task ApplyAsync(string agentId, string machineId, CancellationToken cancellationToken) =>
        assignments.RunAsync(async writes =>
        {
            await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
            var agent = await AgentLocks.LockAgentAsync(db, agentId, ownerFilter: null, cancellationToken);
            if (agent is null || agent.Status is not (AgentStatus.Active or AgentStatus.Unhealthy)
                || (await writes.HeldAsync(agent, cancellationToken))?.MachineId != machineId)
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

/// <summary>Database retries (<see cref="ConsumerRetry.Database"/>); at most 8 messages in flight per endpoint.</summary>
public sealed class FinalSnapshotTakenConsumerDefinition : ConsumerDefinition<FinalSnapshotTakenConsumer>
{
    public FinalSnapshotTakenConsumerDefinition() => ConcurrentMessageLimit = 8;

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<FinalSnapshotTakenConsumer> consumerConfigurator, IRegistrationContext context) =>
        endpointConfigurator.UseMessageRetry(ConsumerRetry.Database);
}

public sealed class MachineHealthConsumerDefinition : ConsumerDefinition<MachineHealthConsumer>
{
    public MachineHealthConsumerDefinition() => ConcurrentMessageLimit = 8;

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<MachineHealthConsumer> consumerConfigurator, IRegistrationContext context) =>
        endpointConfigurator.UseMessageRetry(ConsumerRetry.Database);
}
