# Faults under Copy-VMGuestFile, against real agents on this machine (Debian's qemu-ga, and ours
# when built) and the real relay: agents killed and restarted mid-copy both ways (a VM reboot
# closing the chardev, directly and behind the relay: the copy resumes, docs/copy.md), a full guest disk (a small tmpfs this suite
# mounts and always unmounts), destinations that cannot be written (read-only tmpfs), and the
# relay restarted while a client waits. After each: no partial destination presented as
# complete, no guest handle left open, and the next operation succeeds.
# Every wait is bounded; every process is stopped by its own pid; mounts live under the run's
# temporary folder and are unmounted in AfterEach.

BeforeDiscovery {
    Import-Module (Join-Path $env:QEMUGUEST_REPO_ROOT 'tools/LocalAgent.psm1') -Force
    $script:Kinds = @('Stock') + @(if (Get-OurAgentPath) { 'Ours' })
}

BeforeAll {
    Import-Module (Join-Path $env:QEMUGUEST_REPO_ROOT 'tools/LocalAgent.psm1') -Force
    Import-Module $env:QEMUGUEST_MODULE_PATH -Force
    $script:RelayDll = Join-Path $env:QEMUGUEST_REPO_ROOT 'src/QemuGuest.Relay/bin/Release/net10.0/qemuguest-relay.dll'

    . (Join-Path $PSScriptRoot 'CopyTestHelpers.ps1')
    . (Join-Path $PSScriptRoot 'AgentHelpers.ps1')

    # Starts a copy in its own runspace (so the test can kill things under it) and returns once
    # the temporary file at $Watch has grown past 4 MB (or after 30 s).
    function Start-BackgroundCopy([scriptblock] $Copy, [object[]] $Arguments, [string] $WatchFolder, [string] $WatchFilter) {
        $ps = [powershell]::Create()
        $null = $ps.AddScript($Copy)
        foreach ($a in @($env:QEMUGUEST_MODULE_PATH) + $Arguments) { $null = $ps.AddArgument($a) }
        $async = $ps.BeginInvoke()
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while (-not (Get-ChildItem $WatchFolder -Filter $WatchFilter -ErrorAction SilentlyContinue | Where-Object Length -GT 4MB) -and [DateTime]::UtcNow -lt $deadline) {
            if ($async.IsCompleted) { break }
            Start-Sleep -Milliseconds 20
        }
        [pscustomobject]@{ PowerShell = $ps; Async = $async }
    }

    function Wait-BackgroundCopy($Job) {
        $null = $Job.Async.AsyncWaitHandle.WaitOne(90000)
        $Job.Async.IsCompleted | Should -BeTrue -Because 'a copy whose agent vanished must end within its timeouts'
        $null = $Job.PowerShell.EndInvoke($Job.Async)
        $errors = @($Job.PowerShell.Streams.Error)
        $Job.PowerShell.Dispose()
        , $errors
    }

    function Mount-SmallFs([string] $Path, [string] $Options) {
        $null = New-Item -ItemType Directory -Force -Path $Path
        & mount -t tmpfs -o $Options tmpfs $Path
        if ($LASTEXITCODE -ne 0) { throw "mount -t tmpfs -o $Options failed (this suite needs root)" }
        $script:Mounts += $Path
    }

    $script:Faults = 0
}

Describe 'Faults under Copy-VMGuestFile, <_> agent' -ForEach $Kinds {
    BeforeAll {
        $script:Kind = $_
        $script:Agent, $script:S = Start-AgentSession -Kind $Kind -Name "harden-$Kind" -ConnectTimeoutSec 5
        $script:T = Join-Path ([IO.Path]::GetTempPath()) ("qg-harden-" + [guid]::NewGuid().ToString('n').Substring(0, 10))
        $null = New-Item -ItemType Directory -Path $T
    }

    AfterAll {
        Stop-AgentSession $Agent -AllSessions
        Remove-Item -Recurse -Force $T -ErrorAction SilentlyContinue
    }

    BeforeEach {
        $script:Mounts = @()
        $script:W = Join-Path $T ([guid]::NewGuid().ToString('n').Substring(0, 8))
        $null = New-Item -ItemType Directory -Path "$W/local", "$W/guest"
    }

    AfterEach {
        foreach ($m in $script:Mounts) { & umount -l $m 2>$null }
        $script:Mounts = @()
    }

    It 'agent killed and restarted mid-copy into the guest: the copy resumes by position and is checked by hash' {
        New-GeneratedFile "$W/local/big.bin" 24
        $h0 = Get-ProbeHandle $S "$W/guest"
        $job = Start-BackgroundCopy { param($m, $s, $src, $dst) Import-Module $m; Copy-VMGuestFile -Session $s -LocalToGuest -Source $src -Destination $dst -TimeoutSec 5 } `
            @($S, "$W/local/big.bin", "$W/guest/big.bin") "$W/guest" 'big.bin.qgtmp-*'
        Restart-LocalAgent $Agent
        $script:Faults++
        $errors = Wait-BackgroundCopy $job
        # Before issue 23 this ended as TransferInterrupted with no destination.
        $errors | ForEach-Object { $_.FullyQualifiedErrorId } | Should -BeNullOrEmpty -Because (($errors | ForEach-Object { $_.Exception.Message }) -join " | ")
        (Get-FileHash "$W/guest/big.bin").Hash | Should -Be (Get-FileHash "$W/local/big.bin").Hash
        Get-ChildItem "$W/guest" -Filter '*.qgtmp-*' | Should -BeNullOrEmpty

        # The same session carries on against the restarted agent, and leaves no handle open.
        $h1 = Get-ProbeHandle $S "$W/guest"
        Get-LeakedHandles $S $h0 $h1 | Should -BeNullOrEmpty
        $r = Copy-VMGuestFile -Session $S -LocalToGuest -Source "$W/local/big.bin" -Destination "$W/guest/big.bin" -Force -Verify -PassThru
        $r.Verified | Should -BeTrue
    }

    It 'agent killed and restarted mid-copy out of the guest: the copy resumes by position and is checked by hash' {
        New-GeneratedFile "$W/guest/big.bin" 24
        $h0 = Get-ProbeHandle $S "$W/guest"
        $job = Start-BackgroundCopy { param($m, $s, $src, $dst) Import-Module $m; Copy-VMGuestFile -Session $s -GuestToLocal -Source $src -Destination $dst -TimeoutSec 5 } `
            @($S, "$W/guest/big.bin", "$W/local/big.bin") "$W/local" 'big.bin.qgtmp-*'
        Restart-LocalAgent $Agent
        $script:Faults++
        $errors = Wait-BackgroundCopy $job
        # Before issue 23 this ended as TransferInterrupted with no local file.
        $errors | ForEach-Object { $_.FullyQualifiedErrorId } | Should -BeNullOrEmpty -Because (($errors | ForEach-Object { $_.Exception.Message }) -join " | ")
        (Get-FileHash "$W/local/big.bin").Hash | Should -Be (Get-FileHash "$W/guest/big.bin").Hash
        Get-ChildItem "$W/local" -Filter '*.qgtmp-*' | Should -BeNullOrEmpty

        $h1 = Get-ProbeHandle $S "$W/guest"
        Get-LeakedHandles $S $h0 $h1 | Should -BeNullOrEmpty
    }

    It 'a full guest disk is DiskFull, leaves neither destination nor temporary, frees the space, and a smaller copy then succeeds' {
        Mount-SmallFs "$W/guest/small" 'size=8m'
        New-GeneratedFile "$W/local/big.bin" 12
        $script:Faults++
        Copy-VMGuestFile -Session $S -LocalToGuest -Source "$W/local/big.bin" -Destination "$W/guest/small/big.bin" -ErrorVariable err -ErrorAction SilentlyContinue
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -BeLike 'DiskFull,*'
        Get-ChildItem "$W/guest/small" -Force | Should -BeNullOrEmpty -Because 'no partial file may stay behind on a full disk'

        $h0 = Get-ProbeHandle $S "$W/guest"
        New-GeneratedFile "$W/local/fits.bin" 4
        $r = Copy-VMGuestFile -Session $S -LocalToGuest -Source "$W/local/fits.bin" -Destination "$W/guest/small/fits.bin" -Verify -PassThru
        $r.Verified | Should -BeTrue
        $h1 = Get-ProbeHandle $S "$W/guest"
        Get-LeakedHandles $S $h0 $h1 | Should -BeNullOrEmpty
    }

    It 'a full local disk is DiskFull and leaves no local temporary' {
        Mount-SmallFs "$W/local/small" 'size=8m'
        New-GeneratedFile "$W/guest/big.bin" 12
        $script:Faults++
        Copy-VMGuestFile -Session $S -GuestToLocal -Source "$W/guest/big.bin" -Destination "$W/local/small/big.bin" -ErrorVariable err -ErrorAction SilentlyContinue
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -BeLike 'DiskFull,*'
        Get-ChildItem "$W/local/small" -Force | Should -BeNullOrEmpty
        $h0 = Get-ProbeHandle $S "$W/guest"
        $h1 = Get-ProbeHandle $S "$W/guest"
        Get-LeakedHandles $S $h0 $h1 | Should -BeNullOrEmpty
    }

    It 'a destination that cannot be written (read-only file system) is PermissionDenied, both ways, and nothing is left' {
        Mount-SmallFs "$W/guest/ro" 'size=1m,ro'
        Mount-SmallFs "$W/local/ro" 'size=1m,ro'
        Set-Content "$W/local/a.txt" 'alpha'
        Set-Content "$W/guest/b.txt" 'bravo'
        $script:Faults += 2
        Copy-VMGuestFile -Session $S -LocalToGuest -Source "$W/local/a.txt" -Destination "$W/guest/ro/a.txt" -ErrorVariable e1 -ErrorAction SilentlyContinue
        Copy-VMGuestFile -Session $S -GuestToLocal -Source "$W/guest/b.txt" -Destination "$W/local/ro/b.txt" -ErrorVariable e2 -ErrorAction SilentlyContinue
        $e1.Count | Should -Be 1
        $e2.Count | Should -Be 1
        $e1[0].FullyQualifiedErrorId | Should -BeLike 'PermissionDenied,*'
        $e2[0].FullyQualifiedErrorId | Should -BeLike 'PermissionDenied,*'
        Get-ChildItem "$W/guest/ro", "$W/local/ro" -Force | Should -BeNullOrEmpty
        $r = Copy-VMGuestFile -Session $S -LocalToGuest -Source "$W/local/a.txt" -Destination "$W/guest/a.txt" -PassThru
        $r | Should -Not -BeNullOrEmpty
    }
}

Describe 'Faults through the relay, <_> agent' -ForEach $Kinds {
    BeforeAll {
        $script:Kind = $_
        if (-not (Test-Path $RelayDll)) { throw "the relay is not built: $RelayDll" }
        $script:Agent = Start-LocalAgent -Kind $Kind
        $script:T = Join-Path ([IO.Path]::GetTempPath()) ("qg-hrelay-" + [guid]::NewGuid().ToString('n').Substring(0, 10))
        $null = New-Item -ItemType Directory -Path "$T/local", "$T/guest"
        $script:RelayDir = Join-Path $T 'rt'

        function Start-Relay {
            $p = Start-Process dotnet -PassThru -RedirectStandardOutput "$T/relay.out" -RedirectStandardError "$T/relay.err" `
                -ArgumentList $RelayDll, "--Relay:RuntimeDirectory=$RelayDir", "--Relay:Vms:hvm:Agent=$($Agent.Socket)", '--Relay:Limits:FirstByteTimeoutSeconds=5', '--Relay:Limits:LastByteTimeoutSeconds=5', '--Relay:Limits:ReconnectMaxSeconds=0.5'
            $deadline = [DateTime]::UtcNow.AddSeconds(30)
            while (-not (Test-Path "$RelayDir/hvm.sock") -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
            if (-not (Test-Path "$RelayDir/hvm.sock")) { throw "relay did not start: $(Get-Content -Raw "$T/relay.err" -ErrorAction SilentlyContinue)" }
            $p
        }
        $script:Relay = Start-Relay
        $script:SavedRelayDir = $env:QEMUGUEST_RELAY_DIR
        $env:QEMUGUEST_RELAY_DIR = $RelayDir
    }

    AfterAll {
        $env:QEMUGUEST_RELAY_DIR = $SavedRelayDir
        Get-VMGuestSession | Remove-VMGuestSession -Confirm:$false
        if ($script:Relay) { Stop-Process -Id $Relay.Id -ErrorAction SilentlyContinue; $null = $Relay.WaitForExit(10000) }
        $script:Agent | Stop-LocalAgent
        Remove-Item -Recurse -Force $T -ErrorAction SilentlyContinue
    }

    It 'the guest reboots (agent killed and restarted behind the relay) mid-copy: the copy resumes and is checked by hash' {
        $S = New-VMGuestSession -VMName hvm -ConnectTimeoutSec 5
        New-GeneratedFile "$T/local/big.bin" 24
        $job = Start-BackgroundCopy { param($m, $s, $src, $dst) Import-Module $m; Copy-VMGuestFile -Session $s -LocalToGuest -Source $src -Destination $dst -TimeoutSec 10 } `
            @($S, "$T/local/big.bin", "$T/guest/big.bin") "$T/guest" 'big.bin.qgtmp-*'
        Restart-LocalAgent $Agent
        $script:Faults++
        $errors = Wait-BackgroundCopy $job
        # Before issue 23 this ended as TransferInterrupted with no destination.
        $errors | ForEach-Object { $_.FullyQualifiedErrorId } | Should -BeNullOrEmpty -Because (($errors | ForEach-Object { $_.Exception.Message }) -join " | ")
        (Get-FileHash "$T/guest/big.bin").Hash | Should -Be (Get-FileHash "$T/local/big.bin").Hash
        Get-ChildItem "$T/guest" -Filter '*.qgtmp-*' | Should -BeNullOrEmpty
        $S | Remove-VMGuestSession -Confirm:$false
    }

    It 'the relay restarted while a client waits: a clear error within the timeout, then the next call succeeds' {
        $S = New-VMGuestSession -VMName hvm -ConnectTimeoutSec 10
        (Invoke-VMGuestCommand -Session $S sh -ArgumentList '-c', 'echo before').StdOut | Should -Be "before`n"
        $ps = [powershell]::Create()
        $null = $ps.AddScript({ param($m, $s) Import-Module $m; Invoke-VMGuestCommand -Session $s sleep -ArgumentList 3 -TimeoutSec 20 }).AddArgument($env:QEMUGUEST_MODULE_PATH).AddArgument($S)
        $async = $ps.BeginInvoke()
        Start-Sleep -Milliseconds 800
        Stop-Process -Id $Relay.Id
        $null = $Relay.WaitForExit(10000)
        $script:Relay = Start-Relay
        $script:Faults++
        $null = $async.AsyncWaitHandle.WaitOne(60000)
        $async.IsCompleted | Should -BeTrue -Because 'a waiting client must not hang when the relay goes away'
        $null = $ps.EndInvoke($async)
        $errors = @($ps.Streams.Error)
        $ps.Dispose()
        # Either the wait fails with a named error, or (reconnecting) it finishes the poll: never a hang.
        $errors | ForEach-Object { $_.FullyQualifiedErrorId | Should -Not -BeNullOrEmpty }
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        do {
            $out = Invoke-VMGuestCommand -Session $S sh -ArgumentList '-c', 'echo after' -ErrorAction SilentlyContinue -ErrorVariable e
            if ($out) { break }
            Start-Sleep -Milliseconds 500
        } while ([DateTime]::UtcNow -lt $deadline)
        $out.StdOut | Should -Be "after`n"
        $S | Remove-VMGuestSession -Confirm:$false
    }
}
