using FleetAspire.Cloud;
using FleetAspire.Contracts.Pool;
using FleetAspire.Data.Entities;
using FleetAspire.Pool.Application;
using FleetAspire.Messaging;
using MassTransit;

namespace FleetAspire.Pool.Consumers;

public sealed class MachineClaimedConsumerDefinition : ConsumerDefinition<MachineClaimedConsumer>
{
    public MachineClaimedConsumerDefinition() => ConcurrentMessageLimit = 8;
}
