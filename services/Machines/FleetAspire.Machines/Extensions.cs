using FleetAspire.Data;
using FleetAspire.Messaging;

namespace FleetAspire.Machines;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddFleetDatabase();
        builder.AddFleetMessaging();
    }
}
