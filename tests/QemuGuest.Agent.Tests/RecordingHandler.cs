using System;
using System.Linq;
using System.Reflection;
using System.Threading.Tasks;
using CsCheck;
using QemuGuest.Agent.Core;

namespace QemuGuest.Agent.Tests;

/// <summary>An <see cref="IQgaCommandHandler"/> made at run time: every command is refused once its arguments were read.</summary>
public class RecordingHandler : DispatchProxy
{
    public const string Refusal = "refused by the property test";

    public static IQgaCommandHandler Create() => DispatchProxy.Create<IQgaCommandHandler, RecordingHandler>();

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        Type type = targetMethod!.ReturnType;
        var error = new AgentCommandException(Refusal);
        if (type == typeof(ValueTask))
        {
            return ValueTask.FromException(error);
        }

        return typeof(ValueTask).GetMethods(BindingFlags.Public | BindingFlags.Static)
            .Single(m => m.Name == nameof(ValueTask.FromException) && m.IsGenericMethodDefinition)
            .MakeGenericMethod(type.GetGenericArguments()[0])
            .Invoke(null, new object[] { error });
    }
}
