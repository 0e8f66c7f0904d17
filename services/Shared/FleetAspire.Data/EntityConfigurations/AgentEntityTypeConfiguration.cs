using FleetAspire.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace FleetAspire.Data.EntityConfigurations;

internal sealed class AgentEntityTypeConfiguration : IEntityTypeConfiguration<Agent>
{
    public void Configure(EntityTypeBuilder<Agent> builder)
    {
        builder.ToTable("agents");
        builder.HasKey(a => a.Id);
        builder.Property(a => a.Id).HasMaxLength(64);
        builder.Property(a => a.Name).HasMaxLength(Limits.NameLength);
        builder.Property(a => a.UserId).HasMaxLength(Limits.UserIdLength);
        builder.Property(a => a.Status).HasMaxLength(32);

        // Owner listing pages by (user_id, id).
        builder.HasIndex(a => new { a.UserId, a.Id });
        // The relation took the name of the legacy column it replaced (the contract's rename, docs/adr/0014).
        builder.Property(a => a.MachineRef).HasMaxLength(80).HasColumnName(FleetDbContext.AgentRelationColumn);
    }
}
