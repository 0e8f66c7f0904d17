using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace FleetAspire.Data.Migrations
{
    /// <inheritdoc />
    public partial class Legacy_SnapshotOwnerAndFinal : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "agent_id",
                table: "machine_snapshots",
                type: "character varying(64)",
                maxLength: 64,
                nullable: true);

            migrationBuilder.AddColumn<bool>(
                name: "is_final",
                table: "machine_snapshots",
                type: "boolean",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<string>(
                name: "user_id",
                table: "machine_snapshots",
                type: "character varying(128)",
                maxLength: 128,
                nullable: false,
                defaultValue: "");

            migrationBuilder.CreateIndex(
                name: "ix_machine_snapshots_user_id_id",
                table: "machine_snapshots",
                columns: new[] { "user_id", "id" });

            migrationBuilder.CreateIndex(
                name: "ux_machine_snapshots_final_per_agent",
                table: "machine_snapshots",
                column: "agent_id",
                unique: true,
                filter: "is_final");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_machine_snapshots_user_id_id",
                table: "machine_snapshots");

            migrationBuilder.DropIndex(
                name: "ux_machine_snapshots_final_per_agent",
                table: "machine_snapshots");

            migrationBuilder.DropColumn(
                name: "agent_id",
                table: "machine_snapshots");

            migrationBuilder.DropColumn(
                name: "is_final",
                table: "machine_snapshots");

            migrationBuilder.DropColumn(
                name: "user_id",
                table: "machine_snapshots");
        }
    }
}
