# Running guest programs (Invoke-VMGuestCommand, Invoke-VMGuestScript, Start-/Get-/Wait-VMGuestProcess)
# against real agents on this machine: Debian's qemu-ga, and ours when built.

BeforeDiscovery {
    Import-Module (Join-Path $env:QEMUGUEST_REPO_ROOT 'tools/LocalAgent.psm1') -Force
    $script:Kinds = @('Stock') + @(if (Get-OurAgentPath) { 'Ours' })
}

BeforeAll {
    Import-Module (Join-Path $env:QEMUGUEST_REPO_ROOT 'tools/LocalAgent.psm1') -Force
    Import-Module $env:QEMUGUEST_MODULE_PATH -Force
    . (Join-Path $PSScriptRoot 'AgentHelpers.ps1')
}

Describe 'Guest processes against the <_> agent' -ForEach $Kinds {
    BeforeAll {
        $script:Agent, $script:S = Start-AgentSession -Kind $_ -Name "proc-$_"
        $script:T = Join-Path ([IO.Path]::GetTempPath()) ("qg-proc-" + [guid]::NewGuid().ToString('n').Substring(0, 10))
        $null = New-Item -ItemType Directory -Path $T
    }

    AfterAll {
        Stop-AgentSession $Agent -AllSessions
        Remove-Item -Recurse -Force $T -ErrorAction SilentlyContinue
    }

    Context 'Invoke-VMGuestCommand' {
        It 'returns exit code 0 and stdout as text' {
            $r = Invoke-VMGuestCommand -Session $S -FilePath echo -ArgumentList 'hello', 'world'
            $r.ExitCode | Should -Be 0
            $r.StdOut | Should -Be "hello world`n"
            $r.StdErr | Should -Be ''
            $r.Pid | Should -BeGreaterThan 0
            $r.VMName | Should -Be "proc-$_"
        }

        It 'treats a non-zero exit code as a result, not an error' {
            $err = $null
            $r = Invoke-VMGuestCommand -Session $S sh -ArgumentList '-c', 'echo out; echo err >&2; exit 3' -ErrorVariable err
            $err | Should -BeNullOrEmpty
            $r.ExitCode | Should -Be 3
            $r.StdOut | Should -Be "out`n"
            $r.StdErr | Should -Be "err`n"
        }

        It 'decodes UTF-8 output' {
            $r = Invoke-VMGuestCommand -Session $S printf -ArgumentList 'h\303\251llo \342\234\223'
            $r.StdOut | Should -Be 'héllo ✓'
        }

        It 'reports a signal instead of an exit code' {
            $r = Invoke-VMGuestCommand -Session $S sh -ArgumentList '-c', 'kill -TERM $$'
            $r.ExitCode | Should -BeNullOrEmpty
            $r.Signal | Should -Be 15
        }

        It 'feeds -InputObject to stdin (string, lines, bytes)' {
            (Invoke-VMGuestCommand -Session $S cat -InputObject 'ünï code').StdOut | Should -Be 'ünï code'
            (Invoke-VMGuestCommand -Session $S cat -InputObject @('one', 'two')).StdOut | Should -Be "one`ntwo`n"
            (Invoke-VMGuestCommand -Session $S wc -ArgumentList '-c' -InputObject ([byte[]](0..255))).StdOut.Trim() | Should -Be '256'
        }

        It 'adds -Environment variables to the agent''s environment (PATH kept)' {
            $r = Invoke-VMGuestCommand -Session $S sh -ArgumentList '-c', 'echo "$QG_A|$QG_B"; command -v ls >/dev/null && echo path-ok' -Environment @{ QG_A = 'x y'; QG_B = 'é' }
            $r.StdOut | Should -Be "x y|é`npath-ok`n"
        }

        It 'starts in -WorkingDirectory' {
            (Invoke-VMGuestCommand -Session $S pwd -WorkingDirectory $T).StdOut.Trim() | Should -Be $T
        }

        It 'fails a timeout with GuestCommandTimeout and kills the program' {
            $marker = "$(Get-Random -Minimum 100000 -Maximum 999999)"
            $err = $null
            $clock = [Diagnostics.Stopwatch]::StartNew()
            Invoke-VMGuestCommand -Session $S sleep -ArgumentList "1$marker" -Timeout 1 -ErrorVariable err -ErrorAction SilentlyContinue
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 15
            $err[0].FullyQualifiedErrorId | Should -BeLike 'GuestCommandTimeout,*'
            $err[0].CategoryInfo.Category | Should -Be 'OperationTimeout'
            Start-Sleep -Milliseconds 300
            & pgrep -f "sleep 1$marker" | Should -BeNullOrEmpty
        }

        It 'reports a program that does not exist as an agent error' {
            $err = $null
            Invoke-VMGuestCommand -Session $S /nonexistent/program -ErrorVariable err -ErrorAction SilentlyContinue
            $err[0].FullyQualifiedErrorId | Should -BeLike 'AgentGenericError,*'
        }

        It 'runs nothing with -WhatIf' {
            Invoke-VMGuestCommand -Session $S touch -ArgumentList "$T/whatif" -WhatIf
            "$T/whatif" | Should -Not -Exist
        }

        It 'runs on many targets at once' {
            $a2, $s2 = Start-AgentSession -Kind $_ -Name "proc2-$_"
            try {
                $r = Invoke-VMGuestCommand -Session $S, $s2 hostname -ThrottleLimit 2
                @($r).Count | Should -Be 2
                ($r.VMName | Sort-Object) | Should -Be (@("proc-$_", "proc2-$_") | Sort-Object)
            }
            finally { Stop-AgentSession $a2 $s2 }
        }
    }

    Context 'Invoke-VMGuestScript' {
        It 'runs Bash and Sh script text' {
            (Invoke-VMGuestScript -Session $S -ScriptText 'a=(1 2 3); echo ${#a[@]}' -ScriptType Bash).StdOut | Should -Be "3`n"
            (Invoke-VMGuestScript -Session $S -ScriptText 'echo "$0"; exit 4' -ScriptType Sh).ExitCode | Should -Be 4
        }

        It 'runs PowerShell script text when pwsh is in the guest' -Skip:(-not (Get-Command pwsh -CommandType Application -ErrorAction SilentlyContinue)) {
            (Invoke-VMGuestScript -Session $S -ScriptText '"{0}" -f (2 + 3)' -ScriptType PowerShell).StdOut.Trim() | Should -Be '5'
        }
    }

    Context 'Start-, Get-, Wait-VMGuestProcess' {
        It 'starts without waiting, reports Running, then waits for the result' {
            $p = Start-VMGuestProcess -Session $S sh -ArgumentList '-c', 'sleep 1; echo done; exit 2'
            $p.Pid | Should -BeGreaterThan 0
            (Get-VMGuestProcess -Session $S -Id $p.Pid).State | Should -Be 'Running'
            $r = $p | Wait-VMGuestProcess -Session $S -Timeout 30
            $r.ExitCode | Should -Be 2
            $r.StdOut | Should -Be "done`n"
        }

        It 'keeps a result Get-VMGuestProcess saw, for Wait-VMGuestProcess' {
            $p = Start-VMGuestProcess -Session $S echo -ArgumentList 'kept'
            $deadline = [DateTime]::UtcNow.AddSeconds(10)
            do { $g = Get-VMGuestProcess -Session $S -Id $p.Pid; Start-Sleep -Milliseconds 50 } until ($g.State -eq 'Exited' -or [DateTime]::UtcNow -gt $deadline)
            $g.ExitCode | Should -Be 0
            (Wait-VMGuestProcess -Session $S -Id $p.Pid).StdOut | Should -Be "kept`n"
        }

        It 'times out a wait with GuestCommandTimeout, leaving the program running unless -Kill' {
            $p = Start-VMGuestProcess -Session $S sleep -ArgumentList '30'
            $err = $null
            Wait-VMGuestProcess -Session $S -Id $p.Pid -Timeout 1 -ErrorVariable err -ErrorAction SilentlyContinue
            $err[0].FullyQualifiedErrorId | Should -BeLike 'GuestCommandTimeout,*'
            (Get-VMGuestProcess -Session $S -Id $p.Pid).State | Should -Be 'Running'
            Wait-VMGuestProcess -Session $S -Id $p.Pid -Timeout 1 -Kill -ErrorVariable err -ErrorAction SilentlyContinue
            $err[0].FullyQualifiedErrorId | Should -BeLike 'GuestCommandTimeout,*'
            $err[0].Exception.Message | Should -BeLike '*killed*'
        }

        It 'reports an unknown process id as GuestProcessNotFound' {
            $err = $null
            Wait-VMGuestProcess -Session $S -Id 999999999 -ErrorVariable err -ErrorAction SilentlyContinue
            $err[0].FullyQualifiedErrorId | Should -BeLike 'GuestProcessNotFound,*'
        }
    }
}
