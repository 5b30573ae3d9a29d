using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Relay.Guest;

namespace QemuGuest.Relay.Tests;

public class FairQueueTests
{
    [Fact]
    public async Task Serves_producers_round_robin()
    {
        var q = new FairQueue<string>(100, 10, 1 << 20);
        object a = new(), b = new(), c = new();
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(EnqueueResult.Queued, q.TryEnqueue(a, "a" + i, 1));
        }

        Assert.Equal(EnqueueResult.Queued, q.TryEnqueue(b, "b0", 1));
        Assert.Equal(EnqueueResult.Queued, q.TryEnqueue(c, "c0", 1));
        Assert.Equal(EnqueueResult.Queued, q.TryEnqueue(b, "b1", 1));
        var order = new List<string>();
        for (int i = 0; i < 8; i++)
        {
            order.Add(await q.DequeueAsync(CancellationToken.None));
        }

        Assert.Equal(new[] { "a0", "b0", "c0", "a1", "b1", "a2", "a3", "a4" }, order);
    }

    [Fact]
    public void Enforces_bounds()
    {
        var q = new FairQueue<string>(3, 2, 100);
        object a = new(), b = new();
        Assert.Equal(EnqueueResult.Queued, q.TryEnqueue(a, "1", 10));
        Assert.Equal(EnqueueResult.Queued, q.TryEnqueue(a, "2", 10));
        Assert.Equal(EnqueueResult.ClientQueueFull, q.TryEnqueue(a, "3", 10));
        Assert.Equal(EnqueueResult.TooManyBytes, q.TryEnqueue(b, "4", 81));
        Assert.Equal(EnqueueResult.Queued, q.TryEnqueue(b, "5", 10));
        Assert.Equal(EnqueueResult.QueueFull, q.TryEnqueue(b, "6", 1));
        Assert.Equal(3, q.Count);
        Assert.Equal(30, q.Bytes);
    }

    [Fact]
    public async Task A_request_put_back_goes_first_in_its_producers_line()
    {
        // Pipelined guest-file-writes land at the file position: one put back behind its
        // successors would permute the file with no error anywhere (issue 23).
        var q = new FairQueue<string>(100, 4, 1 << 20);
        object a = new(), b = new();
        foreach (string s in new[] { "w1", "w2", "w3" })
        {
            Assert.Equal(EnqueueResult.Queued, q.TryEnqueue(a, s, 10));
        }

        Assert.Equal(EnqueueResult.Queued, q.TryEnqueue(b, "ping", 1));
        Assert.Equal("w1", await q.DequeueAsync(CancellationToken.None));
        q.ReturnToFront(a, "w1", 10);
        Assert.Equal(4, q.Count);
        Assert.Equal(31, q.Bytes);
        var order = new List<string>();
        for (int i = 0; i < 4; i++)
        {
            order.Add(await q.DequeueAsync(CancellationToken.None));
        }

        Assert.Equal(new[] { "w1", "ping", "w2", "w3" }, order);

        // A producer with nothing else queued gets its turn back too.
        q.ReturnToFront(b, "ping", 1);
        Assert.Equal("ping", await q.DequeueAsync(CancellationToken.None));
        Assert.Equal(0, q.Count);
    }

    [Fact]
    public async Task Dequeue_times_out_through_cancellation()
    {
        var q = new FairQueue<string>(3, 2, 100);
        using var cts = new CancellationTokenSource(50);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await q.DequeueAsync(cts.Token));
    }
}
