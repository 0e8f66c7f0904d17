using FleetAspire.Cloud;
using FleetAspire.Data;
using FleetAspire.Messaging;

namespace FleetAspire.Snapshots;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddFleetDatabase();
        builder.AddCloudProvider();
        builder.AddFleetMessaging();
    }
}
