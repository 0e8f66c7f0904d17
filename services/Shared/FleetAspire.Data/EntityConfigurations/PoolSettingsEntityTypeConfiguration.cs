using FleetAspire.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace FleetAspire.Data.EntityConfigurations;

internal sealed class PoolSettingsEntityTypeConfiguration : IEntityTypeConfiguration<PoolSettings>
{
    public void Configure(EntityTypeBuilder<PoolSettings> builder)
    {
        builder.ToTable("pool_settings", t => t.HasCheckConstraint("ck_pool_settings_singleton", "id = 1"));
        builder.HasKey(p => p.Id);
        builder.Property(p => p.Id).ValueGeneratedNever();
        builder.Property(p => p.UpdatedBy).HasMaxLength(Limits.UserIdLength);
        builder.HasData(new PoolSettings { Id = PoolSettings.SingletonId, TargetSize = 0, UpdatedAt = DateTimeOffset.UnixEpoch });
    }
}
