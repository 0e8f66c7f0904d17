using FleetAspire.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace FleetAspire.Data.EntityConfigurations;

internal sealed class HeartbeatClockEntityTypeConfiguration : IEntityTypeConfiguration<HeartbeatClock>
{
    public void Configure(EntityTypeBuilder<HeartbeatClock> builder)
    {
        builder.ToTable("machine_heartbeat_clocks");
        builder.HasKey(c => c.MachineId);
        builder.Property(c => c.MachineId).HasMaxLength(64);
    }
}
