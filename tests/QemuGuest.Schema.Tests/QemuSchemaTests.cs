using System;
using System.IO;
using System.Linq;

namespace QemuGuest.Schema.Tests;

/// <summary>
/// QEMU's own qga/qapi-schema.json must load unchanged. It is GPL text, so it is not in this
/// repository: point QEMUGUEST_QEMU_QGA_SCHEMA at a copy to run this check (reported as skipped
/// otherwise).
/// </summary>
public class QemuSchemaTests
{
    [FactWhenEnvironment("QEMUGUEST_QEMU_QGA_SCHEMA", "a copy of QEMU's qga/qapi-schema.json")]
    public void QemusQgaSchemaLoadsWhenProvided()
    {
        string path = Environment.GetEnvironmentVariable("QEMUGUEST_QEMU_QGA_SCHEMA")!;
        string dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var schema = SchemaLoader.Load(Path.GetFileName(path), p =>
        {
            string full = Path.Combine(dir, p);
            return File.Exists(full) ? File.ReadAllText(full) : null;
        });
        Assert.Contains(schema.Commands, c => c.Name == "guest-sync-delimited");
        Assert.Contains(schema.Commands, c => c.Name == "guest-file-seek");
        var exec = schema.Find<QapiCommand>("guest-exec")!;
        Assert.Equal("q_obj_guest-exec-arg", exec.Arguments);
        Assert.NotNull(schema.Find<QapiAlternate>("GuestFileWhence"));
        Console.WriteLine(
            "QEMU qga schema: " + schema.Commands.Count() + " commands, " +
            schema.Entities.Count(e => e is QapiStruct { IsImplicit: false }) + " structs, " +
            schema.Entities.OfType<QapiEnum>().Count() + " enums, " +
            schema.Entities.OfType<QapiUnion>().Count() + " unions, " +
            schema.Entities.OfType<QapiAlternate>().Count() + " alternates");
    }

    /// <summary>
    /// The drop-in the Generator README describes: QEMU's file as qga.json plus our include, next
    /// to our other files. The capabilities side file must classify every command it brings.
    /// </summary>
    [FactWhenEnvironment("QEMUGUEST_QEMU_QGA_SCHEMA", "a copy of QEMU's qga/qapi-schema.json")]
    public void QemusQgaSchemaDropsInWithOurSideFiles()
    {
        string qemu = File.ReadAllText(Environment.GetEnvironmentVariable("QEMUGUEST_QEMU_QGA_SCHEMA")!);
        string root = qemu + "\n{ 'include': 'qga-qemuguest.json' }\n";
        var schema = SchemaLoader.Load("qga.json", p => p == "qga.json" ? root : TestFiles.ReadProject(p));
        Assert.Contains("qga.capabilities.json", schema.Files);
        Assert.All(schema.Commands, c => Assert.NotEmpty(c.Capabilities));
        Assert.Contains(schema.Commands, c => c.Name.StartsWith("__com.qemuguest_", StringComparison.Ordinal));
        Console.WriteLine("QEMU qga schema dropped in: " + schema.Commands.Count() + " commands, every one classed");
    }
}
